"""Property checks: each takes a run and raises `PropertyViolation` with a readable explanation.

All of them read the run through the model (model.py), never the engine's
internals, so a doctored run or an engine variant fails them just the same.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from . import model
from .model import Finding, RoundRobinPick, Walk
from .run import Run


class PropertyViolation(AssertionError):
    """A run breaks a property; the message says which decision, what was expected, and the candidates."""

    property = "property"

    def __init__(self, title: str, findings: list[Finding]):
        self.findings = findings
        lines = [f"{title}: {findings[0].message}"]
        lines += [f"  also: {finding.message}" for finding in findings[1:3]]
        if len(findings) > 3:
            lines.append(f"  and {len(findings) - 3} more")
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class Property:
    name: str
    title: str
    meaning: str
    check: Callable[[Run], None]
    violation: type[PropertyViolation]


_last_walk: tuple[Run, Walk] | None = None


def walk_of(run: Run) -> Walk:
    """The model's walk of a run, kept for the run last asked about (checks of one run share it)."""
    global _last_walk
    if _last_walk is None or _last_walk[0] is not run:
        _last_walk = (run, model.walk(run))
    return _last_walk[1]


def _violation_type(name: str) -> type[PropertyViolation]:
    # One type per property, so hypothesis tracks and shrinks each failure on its own.
    class_name = "".join(part.title() for part in name.split("_")) + "Violation"
    return type(class_name, (PropertyViolation,), {"property": name, "__module__": __name__})


def _findings_check(name: str, title: str) -> tuple[Callable[[Run], None], type[PropertyViolation]]:
    violation = _violation_type(name)

    def check(run: Run) -> None:
        findings = [finding for finding in walk_of(run).findings if finding.property == name]
        if findings:
            raise violation(title, findings)

    check.__name__ = f"check_{name}"
    return check, violation


def round_robin_imbalances(picks: list[RoundRobinPick]) -> list[Finding]:
    """Within any window of consecutive round-robin picks on one pool with the same
    candidates, every candidate's count is within one of every other's."""
    findings = []
    windows: dict[str, list[RoundRobinPick]] = {}
    for pick in picks + [None]:
        for pool, window in list(windows.items()):
            if pick is None or pick.pool == pool and pick.candidates != window[0].candidates:
                findings += _imbalance_in(window)
                del windows[pool]
        if pick is not None:
            windows.setdefault(pick.pool, []).append(pick)
    return findings


def _imbalance_in(window: list[RoundRobinPick]) -> list[Finding]:
    counts = Counter({candidate: 0 for candidate in window[0].candidates})
    counts.update(pick.chosen for pick in window if pick.chosen in counts)
    most, least = counts.most_common()[0], counts.most_common()[-1]
    if most[1] - least[1] <= 1:
        return []
    spread = ", ".join(f"{user_id}: {count}" for user_id, count in sorted(counts.items()))
    return [
        Finding(
            model.ROUND_ROBIN_BALANCE,
            f"decisions #{window[0].index}..#{window[-1].index} on pool {window[0].pool!r} had the same "
            f"candidates throughout, yet {most[0]} got {most[1]} and {least[0]} got {least[1]} ({spread})",
            window[-1].index,
        )
    ]


RoundRobinBalanceViolation = _violation_type(model.ROUND_ROBIN_BALANCE)


def check_round_robin_balance(run: Run) -> None:
    findings = round_robin_imbalances(walk_of(run).round_robin_picks)
    if findings:
        raise RoundRobinBalanceViolation("round-robin counts stay within one", findings)


check_eligibility, EligibilityViolation = _findings_check(model.ELIGIBILITY, "eligibility respected")
check_round_robin_turns, RoundRobinTurnsViolation = _findings_check(model.ROUND_ROBIN_TURNS, "round-robin takes turns")
check_least_open, LeastOpenViolation = _findings_check(model.LEAST_OPEN, "least-open picks a minimal candidate")
check_conservation, ConservationViolation = _findings_check(model.CONSERVATION, "every contact in exactly one state")
check_deadlines, DeadlinesViolation = _findings_check(model.DEADLINES, "no queued contact waits past its deadline")
check_queue_order, QueueOrderViolation = _findings_check(model.QUEUE_ORDER, "queue order respected")
check_releases, ReleasesViolation = _findings_check(model.RELEASES, "release timers fire when due")

PROPERTIES: tuple[Property, ...] = (
    Property(
        model.ELIGIBILITY,
        "eligibility respected",
        "every decision takes the first route whose `when` holds; every assignment goes to a user in the "
        "route's pool who passes every `only` at that moment; a contact is queued only when nobody does",
        check_eligibility,
        EligibilityViolation,
    ),
    Property(
        model.ROUND_ROBIN_TURNS,
        "round-robin takes turns",
        "round-robin gives the contact to the first candidate after the pool's cursor, wrapping around",
        check_round_robin_turns,
        RoundRobinTurnsViolation,
    ),
    Property(
        model.ROUND_ROBIN_BALANCE,
        "round-robin counts stay within one",
        "over any run of round-robin picks on a pool whose candidates do not change, every candidate's "
        "count is within one of every other's",
        check_round_robin_balance,
        RoundRobinBalanceViolation,
    ),
    Property(
        model.LEAST_OPEN,
        "least-open picks a minimal candidate",
        "least-open picks the candidate with the fewest open contacts (ties: least recently assigned, "
        "then smallest id)",
        check_least_open,
        LeastOpenViolation,
    ),
    Property(
        model.CONSERVATION,
        "every contact in exactly one state",
        "every routed contact gets its decision, every timeout its branch; at the end each contact is "
        "queued, held by one user, or neither, as the decisions say, and open counts add up",
        check_conservation,
        ConservationViolation,
    ),
    Property(
        model.DEADLINES,
        "no queued contact waits past its deadline",
        "deadlines are the enqueue time plus the route's timeout, and each queued contact times out "
        "exactly at its deadline",
        check_deadlines,
        DeadlinesViolation,
    ),
    Property(
        model.QUEUE_ORDER,
        "queue order respected",
        "a drain places the first contact in queue order (priority, then enqueue time) that has a "
        "candidate, and stops only when no queued contact has one",
        check_queue_order,
        QueueOrderViolation,
    ),
    Property(
        model.RELEASES,
        "release timers fire when due",
        "no contact stays with its assignee past a due release timer; each `released` row comes at its "
        "timer's instant, after the deadlines of that instant, in the order the timers were set, and is "
        "followed by its branch",
        check_releases,
        ReleasesViolation,
    ),
)


def check_run(run: Run) -> None:
    """Every property; raises the first violation."""
    for prop in PROPERTIES:
        prop.check(run)
