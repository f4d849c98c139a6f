"""`rota diff`'s answer: aligned plain text for a person, or one JSON object for a script."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console
from rich.table import Table

from rota.engine import Decision, format_instant
from rota.explain import Explanation
from rota.vocabulary import Outcome
from rota.waits import duration
from rota.wording import plural

from . import PolicyDiff
from .compare import ChangedContact
from .history import BatchHistory
from .measures import Fairness, RouteWaits
from .static import StaticDiff

NO_DECISION = "no decision"
MATCHING = "decisions matched per contact and occurrence: each contact's 1st decision under OLD against its 1st under NEW, and so on"


def print_diff(console: Console, diff: PolicyDiff, names: tuple[str, str], first: int) -> None:
    def say(line: str = "") -> None:
        console.print(line, markup=False, highlight=False)

    old_name, new_name = names
    say(f"OLD {old_name}")
    say(f"NEW {new_name}")
    say()
    say("routes")
    for line in static_lines(diff.static):
        say(f"  {line}")
    say()
    comparison = diff.comparison
    contacts = len(comparison.changed_contacts)
    say(
        f"decisions  {comparison.changed_decisions:,} of {comparison.pairs:,} differ "
        f"({plural(comparison.old_decisions, 'decision')} under OLD, {comparison.new_decisions:,} under NEW); "
        f"the fate of {plural(contacts, 'contact')} differs"
    )
    say(f"  {MATCHING}")
    say()
    console.print(_outcomes_table(diff))
    batch = isinstance(diff.history, BatchHistory)
    if not batch:  # in a batch no time passes: nothing waits, and no timer is set
        say()
        console.print(_waits_table(diff))
    say()
    console.print(_fairness_table(diff))
    if not batch:
        say()
        timers = _timers_table(diff)
        console.print(timers if timers.row_count else "timeouts and releases: none under either policy")
    if comparison.changed_contacts:
        shown = comparison.changed_contacts[:first]
        say()
        say(f"first {plural(len(shown), 'contact')} whose fate differs (of {contacts:,})")
        for changed in shown:
            for line in changed_contact_lines(changed, batch, diff.explained.get(changed.contact, (None, None))):
                say(f"  {line}")


def static_lines(static: StaticDiff) -> list[str]:
    if static.identical:
        return ["no difference: the same routes, in the same order, each written the same in canonical form"]
    lines = []
    if static.timezone:
        old, new = static.timezone
        lines.append(f"timezone  {old or 'UTC (none given)'} -> {new or 'UTC (none given)'}")
    lines += [f"added     {name}" for name in static.added]
    lines += [f"removed   {name}" for name in static.removed]
    if static.moved:
        lines.append(f"reordered {', '.join(static.moved)}: now {' -> '.join(static.new_order)}")
    for change in static.changed:
        lines.append(f"changed   {change.route}")
        if change.condition:
            lines.append(f"  - {change.condition[0] or '(no when: always holds)'}")
            lines.append(f"  + {change.condition[1] or '(no when: always holds)'}")
        if change.action:
            lines += [f"  - {change.action[0]}", f"  + {change.action[1]}"]
        lines += [f"  - {option}" for option in change.options_removed]
        lines += [f"  + {option}" for option in change.options_added]
    return lines


def describe(decision: Decision | None, batch: bool) -> str:
    """A decision in words: `09:12:00 assigned to u03 by vip (least_open)`."""
    if decision is None:
        return NO_DECISION
    what = {
        Outcome.ASSIGNED: f"assigned to {decision.user} by {decision.route} ({decision.reason})",
        Outcome.QUEUED: f"queued on {decision.route} until {format_instant(decision.deadline)}",
        Outcome.UNASSIGNED: f"unassigned by {decision.route}",
        Outcome.FAILED: f"failed on {decision.route}: {decision.reason}",
        Outcome.NO_ROUTE: "no route",
        Outcome.TIMED_OUT: f"timed out of {decision.route}",
        Outcome.RELEASED: f"released from {decision.user} by {decision.route} ({decision.reason})",
    }[Outcome(decision.outcome)]
    return what if batch else f"{format_instant(decision.at)} {what}"


def changed_contact_lines(
    changed: ChangedContact, batch: bool, explained: tuple[Explanation | None, Explanation | None]
) -> list[str]:
    """The contact, how many of its decisions differ, and its first differing decision under each
    policy: explained where it was, else in a line."""
    occurrence = "" if batch else f", from its decision {changed.first_difference + 1}"
    count = plural(changed.changed_decisions, "decision")
    lines = [f"{changed.contact}: {count} {'differs' if changed.changed_decisions == 1 else 'differ'}{occurrence}"]
    for side, decision, explanation in (
        ("OLD", changed.first_old, explained[0]),
        ("NEW", changed.first_new, explained[1]),
    ):
        if explanation is None:
            lines.append(f"  {side} {describe(decision, batch)}")
            continue
        headline, *facts = explanation.render_text().splitlines()
        lines += [f"  {side} {headline}", *(f"      {fact}" for fact in facts)]
    return lines


def _table(*columns: str) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for index, column in enumerate(columns):
        table.add_column(column, justify="left" if index == 0 else "right")
    return table


def _change(old: int, new: int) -> str:
    return "" if old == new else f"{new - old:+,}"


def _outcomes_table(diff: PolicyDiff) -> Table:
    table = _table("outcome", "OLD", "NEW", "change")
    for outcome in Outcome:
        old, new = diff.old.outcomes.get(outcome, 0), diff.new.outcomes.get(outcome, 0)
        if old or new:
            table.add_row(outcome.value, f"{old:,}", f"{new:,}", _change(old, new))
    return table


def _waits_table(diff: PolicyDiff) -> Table:
    table = _table("waits per route", "OLD assigned", "waited", "p50", "p90", "NEW assigned", "waited", "p50", "p90")
    for route in _routes(diff, diff.old.waits, diff.new.waits):
        table.add_row(route, *_wait_cells(diff.old.waits.get(route)), *_wait_cells(diff.new.waits.get(route)))
    return table


def _wait_cells(waits: RouteWaits | None) -> list[str]:
    if waits is None:
        return ["0", "0", duration(None), duration(None)]
    return [f"{waits.assigned:,}", f"{waits.waited:,}", duration(waits.summary.p50), duration(waits.summary.p90)]


def _fairness_table(diff: PolicyDiff) -> Table:
    table = _table("fairness per team", "members", "OLD Gini", "max/min", "NEW Gini", "max/min")
    for team, old in diff.old.fairness.items():
        new = diff.new.fairness[team]
        table.add_row(team, f"{len(old.assigned):,}", *_fairness_cells(old), *_fairness_cells(new))
    return table


def _fairness_cells(fairness: Fairness) -> list[str]:
    ratio = fairness.max_min_ratio
    return [f"{fairness.gini:.3f}", "∞" if math.isinf(ratio) else f"{ratio:.2f}"]


def _timers_table(diff: PolicyDiff) -> Table:
    released = Outcome.RELEASED.value
    table = _table("timeouts and releases", "OLD timed out", released, "NEW timed out", released)
    routes = _routes(diff, diff.old.timeouts, diff.old.releases, diff.new.timeouts, diff.new.releases)
    for route in routes:
        table.add_row(
            route,
            *(f"{counts.get(route, 0):,}" for counts in (diff.old.timeouts, diff.old.releases)),
            *(f"{counts.get(route, 0):,}" for counts in (diff.new.timeouts, diff.new.releases)),
        )
    return table


def _routes(diff: PolicyDiff, *by_route) -> list[str]:
    """The routes some of `by_route` name: NEW's order, then those only OLD has."""
    named = set().union(*by_route)
    order = list(dict.fromkeys([*diff.static.new_order, *diff.static.old_order]))
    return [route for route in order if route in named]


# ------------------------------------------------------------------ JSON


def diff_json(diff: PolicyDiff, names: tuple[str, str], first: int, max_changed: int | None) -> dict[str, Any]:
    static, comparison = diff.static, diff.comparison
    return {
        "old": names[0],
        "new": names[1],
        "static": {
            "identical": static.identical,
            "timezone": None if static.timezone is None else dict(zip(("old", "new"), static.timezone)),
            "added": list(static.added),
            "removed": list(static.removed),
            "reordered": list(static.moved),
            "old_order": list(static.old_order),
            "new_order": list(static.new_order),
            "changed": [
                {
                    "route": change.route,
                    "condition": None if change.condition is None else dict(zip(("old", "new"), change.condition)),
                    "action": None if change.action is None else dict(zip(("old", "new"), change.action)),
                    "options_removed": list(change.options_removed),
                    "options_added": list(change.options_added),
                }
                for change in static.changed
            ],
        },
        "decisions": {
            "old": comparison.old_decisions,
            "new": comparison.new_decisions,
            "matched": comparison.pairs,
            "changed": comparison.changed_decisions,
            "contacts_changed": len(comparison.changed_contacts),
        },
        "outcomes": {
            outcome.value: {"old": diff.old.outcomes.get(outcome, 0), "new": diff.new.outcomes.get(outcome, 0)}
            for outcome in Outcome
        },
        "waits": {
            route: {side: _waits_json(run.waits.get(route)) for side, run in (("old", diff.old), ("new", diff.new))}
            for route in _routes(diff, diff.old.waits, diff.new.waits)
        },
        "fairness": {
            team: {"old": _fairness_json(old), "new": _fairness_json(diff.new.fairness[team])}
            for team, old in diff.old.fairness.items()
        },
        "timeouts": _per_route(diff, diff.old.timeouts, diff.new.timeouts),
        "releases": _per_route(diff, diff.old.releases, diff.new.releases),
        "first_changed": [
            {
                "contact": changed.contact,
                "changed_decisions": changed.changed_decisions,
                "occurrence": changed.first_difference + 1,
                "old": None if changed.first_old is None else changed.first_old.row(),
                "new": None if changed.first_new is None else changed.first_new.row(),
                "old_explained": _explanation_json(diff.explained.get(changed.contact, (None, None))[0]),
                "new_explained": _explanation_json(diff.explained.get(changed.contact, (None, None))[1]),
            }
            for changed in comparison.changed_contacts[:first]
        ],
        "gate": {"max_changed": max_changed, "passed": diff.within(max_changed)},
    }


def _explanation_json(explanation: Explanation | None) -> dict[str, Any] | None:
    return None if explanation is None else explanation.to_json()


def _waits_json(waits: RouteWaits | None) -> dict[str, Any]:
    if waits is None:
        return {"assignments": 0, "waited": 0, "p50": None, "p90": None}
    return {"assignments": waits.assigned, "waited": waits.waited, "p50": waits.summary.p50, "p90": waits.summary.p90}


def _fairness_json(fairness: Fairness) -> dict[str, Any]:
    ratio = fairness.max_min_ratio
    return {
        "members": fairness.assigned,
        "gini": round(fairness.gini, 6),
        "max_min": None if math.isinf(ratio) else round(ratio, 6),
    }


def _per_route(diff: PolicyDiff, old, new) -> dict[str, dict[str, int]]:
    return {route: {"old": old.get(route, 0), "new": new.get(route, 0)} for route in _routes(diff, old, new)}
