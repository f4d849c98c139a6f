"""Running one case through the real engine, in memory, and holding its decisions to the expectations.

A case's roster is built from its fixtures; each step is one event handled by the live engine
(SPEC 4: timers due before it, the event, the drain); at the end the clock runs to the case's
`until`, firing the timers due by then. An expectation is about the contact's decisions so far:
after its event (the timers fired before it, the event, the drain after it), or at the end of
the case; `route`, `outcome`, `user`, `reason` and `deadline` are its last decision's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from rota.engine import CompiledPolicy, Decision, Roster, format_instant
from rota.explain import Explanation, explain_recorded, record_run
from rota.testing import Snapshot, UserRecord

from .cases import LAST_ROW_KEYS, TIMER_OUTCOMES, Case, Check, Expectation, Key
from .coverage import FilterRecordingEngine, ItemKey, decision_keys


@dataclass(frozen=True)
class Failure:
    """An expectation not met: where it is written, what was expected and got, and the contact's rows."""

    check: Check
    expected: str
    got: str
    contact: str | None
    rows: tuple[Decision, ...]
    explanation: Explanation | None = None  # of the contact's last decision (rota.explain)

    @property
    def line(self) -> int:
        return self.check.line

    @property
    def column(self) -> int:
        return self.check.column

    @property
    def message(self) -> str:
        return f"expected {self.expected}, got {self.got}"


@dataclass(frozen=True)
class CaseResult:
    case: Case
    failures: tuple[Failure, ...]
    decisions: tuple[Decision, ...]

    @property
    def passed(self) -> bool:
        return not self.failures


def roster_of(case: Case) -> Roster:
    """A fresh roster of the case's fixtures, built as rota.testing builds a snapshot's."""
    users = tuple(
        UserRecord(user.id, user.status, user.deleted, user.open, user.last_assigned_at, user.name, dict(user.attrs))
        for user in case.users.values()
    )
    return Snapshot(users, case.memberships, tuple(case.cursors.items())).roster()


def run_case(policy: CompiledPolicy, case: Case, seen: set[ItemKey]) -> CaseResult:
    """Run the case; what it exercised is added to `seen` (coverage)."""
    engine = FilterRecordingEngine(policy, roster_of(case), seen)
    decisions: list[Decision] = []
    failures: list[Failure] = []
    for step in case.steps:
        decisions += engine.handle(step.event)
        for expectation in step.expectations:
            failures += explained(policy, case, decisions, check(expectation, decisions))
    decisions += engine.advance(case.until, inclusive=True)
    for expectation in case.expectations:
        failures += explained(policy, case, decisions, check(expectation, decisions))
    seen.update(decision_keys(decisions))
    return CaseResult(case, tuple(failures), tuple(decisions))


def check(expectation: Expectation, decisions: list[Decision]) -> list[Failure]:
    """The checks of `expectation` that the decisions of its contact so far do not meet."""
    mine = tuple(row for row in decisions if row.contact == expectation.contact)
    fate = _last_decision(mine)
    failures = []
    for item in expectation.checks:
        got = _got(item, mine, fate)
        if not _meets(item, got):
            failures.append(
                Failure(
                    item,
                    _expected(item),
                    _said(item, got, expectation.contact),
                    expectation.contact,
                    mine,
                )
            )
    return failures


def explained(policy: CompiledPolicy, case: Case, decisions: list[Decision], failures: list[Failure]) -> list[Failure]:
    """The failures of one expectation, given the explanation of the contact's last decision (and, when
    the expectation named one user, of why that user was not chosen)."""
    fate = _last_decision(failures[0].rows) if failures else None
    if fate is None:
        return failures
    position = next(index for index, decision in enumerate(decisions) if decision is fate)
    wanted = (failure.check for failure in failures if failure.check.key == Key.USER.value)
    user = next((check.want for check in wanted if isinstance(check.want, str)), None)
    events = [step.event for step in case.steps]
    roster = roster_of(case)
    recorded = record_run(policy, roster, events, case.until)
    if position >= len(recorded.decisions) or recorded.decisions[position] != fate:  # `until` before an event
        return failures
    explanation = next(iter(explain_recorded(policy, roster, events, recorded, [position], user, case.until)), None)
    return [replace(failure, explanation=explanation) for failure in failures]


def _last_decision(rows: tuple[Decision, ...]) -> Decision | None:
    """The contact's fate so far: its last row that is not a timer's."""
    return next((row for row in reversed(rows) if row.outcome not in TIMER_OUTCOMES), None)


_NO_DECISION = object()  # the contact has no decision where the expectation looks


def _got(item: Check, mine: tuple[Decision, ...], fate: Decision | None) -> Any:
    if item.key in LAST_ROW_KEYS:
        return _NO_DECISION if fate is None else getattr(fate, item.key)
    wanted = Key.TIMED_OUT.value if item.key == Key.TIMED_OUT.value else Key.RELEASED.value
    return [row for row in mine if row.outcome == wanted]


def _meets(item: Check, got: Any) -> bool:
    if item.key in LAST_ROW_KEYS:
        return got in item.want if isinstance(item.want, tuple) else got == item.want
    if isinstance(item.want, bool):
        return bool(got) == item.want
    return any(row.user == item.want for row in got)  # released: by this user


def _expected(item: Check) -> str:
    if item.key in LAST_ROW_KEYS:
        if isinstance(item.want, tuple):
            return f"{item.key} one of {', '.join(item.want)}"
        return f"{item.key} {_text(item.want)}"
    if item.want is True:
        return "a timed_out row" if item.key == Key.TIMED_OUT.value else "a released row"
    if item.want is False:
        return "no timed_out row" if item.key == Key.TIMED_OUT.value else "no released row"
    return f"a release from {item.want}"


def _said(item: Check, got: Any, contact: str | None) -> str:
    if got is _NO_DECISION:
        return f"no decision for {contact}"
    if item.key in LAST_ROW_KEYS:
        return _text(got)
    if not got:
        return "none"
    return ", ".join(
        f"{row.outcome} at {format_instant(row.at)}" + (f" from {row.user}" if row.user else "") for row in got
    )


def _text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, datetime):
        return format_instant(value)
    return str(value)
