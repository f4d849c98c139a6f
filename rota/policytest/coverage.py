"""What a policy's tests exercised: its routes, branches, failure outcomes and `only` filters.

Routes, branches and outcomes are read from the engine's own decisions (route, outcome,
reason). Filters are seen through `FilterRecordingEngine`, used only by `rota test`: before
each choice it evaluates every conjunct of the route's `only`s, with the engine's compiled
conditions, over the route's whole pool, so a filter is covered once it held for some user
and failed for some user. The engine of replay and the service never pays for it.
"""

from __future__ import annotations

import enum
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from rota.dsl.ast import AssignToSpace, AssignToTeam, AssignToUser, Position, Timeout
from rota.dsl.formatter import format_duration, format_expression
from rota.engine import CompiledPolicy, CompiledRoute, Decision, Engine, Roster, Router
from rota.vocabulary import Outcome, Reason, Scope

ItemKey = tuple[Hashable, ...]


class Kind(enum.Enum):
    """What an item is: the first part of its key."""

    ROUTE = "route taken"
    TIMEOUT = "timeout fired"
    REASSIGN = "release timer fired"
    FAILED = "failure"
    QUEUED = "queueing"
    NO_ROUTE = "no route holding"
    FILTER = "filter"


# The failures each kind of route can end in when it is routed (SPEC 3.2).
FAILURES = {
    AssignToTeam: (Reason.TEAM_EMPTY.value,),
    AssignToSpace: (Reason.SPACE_EMPTY.value,),
    AssignToUser: (Reason.USER_NOT_FOUND.value, Reason.USER_DELETED.value),
}


@dataclass(frozen=True)
class Item:
    """One thing a test can exercise, where it is written, in words."""

    key: ItemKey
    file: str
    line: int
    column: int
    what: str


def policy_items(policy: CompiledPolicy) -> list[Item]:
    """Every item of the policy, in the order of their places."""
    # `user_released` needs a contact released from someone and then sent to a user route by a branch.
    reassigns = [option for route in policy.routes for option in route.route.reassigns]
    branch_targets = {route.route.branch for route in policy.routes} | {option.branch for option in reassigns}
    found = [
        (key, position, what)
        for route in policy.routes
        for key, position, what in _route_items(route, bool(reassigns) and route.name in branch_targets)
    ]
    if policy.routes and all(route.when is not None for route in policy.routes):
        found.append(((Kind.NO_ROUTE,), policy.routes[-1].route.position, "no route holding (no_route)"))
    file = policy.policy.file
    items = [Item(key, position.file or file, position.line, position.column, what) for key, position, what in found]
    return sorted(items, key=lambda item: (item.file, item.line, item.column))


def _route_items(compiled: CompiledRoute, may_find_released: bool) -> Iterator[tuple[ItemKey, Position, str]]:
    """A route's items: taken, its failures, queueing, its timeout and reassigns, its filters both ways."""
    route, name, action = compiled.route, compiled.name, compiled.route.action
    yield (Kind.ROUTE, name), route.position, f"route {name} taken"
    failures = FAILURES.get(type(action), ())
    if isinstance(action, AssignToUser) and may_find_released:
        failures += (Reason.USER_RELEASED.value,)
    for reason in failures:
        yield (Kind.FAILED, name, reason), action.position, f"route {name} failing with {reason}"
    if route.queues:
        yield (Kind.QUEUED, name), action.position, f"route {name} queueing (nobody eligible)"
        timeout = next((option for option in route.options if isinstance(option, Timeout)), None)
        after = f"-> {route.branch}" if route.branch else "with no branch (fails with timeout)"
        yield (
            (Kind.TIMEOUT, name),
            timeout.position if timeout is not None else action.position,
            f"route {name}'s timeout {format_duration(route.timeout_seconds)} {after}",
        )
    for reassign in route.reassigns:
        after = f" -> {reassign.branch}" if reassign.branch else ""
        yield (
            (Kind.REASSIGN, name, reassign.trigger),
            reassign.position,
            f"route {name}'s reassign when {reassign.trigger}{after}",
        )
    for index, conjunct in enumerate(compiled.plan.conjuncts):
        text = format_expression(conjunct.expr, Scope.USER.value)
        for holds in (True, False):
            yield (
                (Kind.FILTER, name, index, holds),
                conjunct.expr.position,
                f"route {name}'s `only {text}` {'true' if holds else 'false'} for some user",
            )


def decision_keys(decisions: Iterable[Decision]) -> set[ItemKey]:
    """The items the engine's decisions exercised."""
    seen: set[ItemKey] = set()
    for decision in decisions:
        outcome, route = decision.outcome, decision.route
        if outcome == Outcome.NO_ROUTE:
            seen.add((Kind.NO_ROUTE,))
        elif outcome == Outcome.TIMED_OUT:
            seen.add((Kind.TIMEOUT, route))
        elif outcome == Outcome.RELEASED:
            seen.add((Kind.REASSIGN, route, decision.reason))
        else:
            seen.add((Kind.ROUTE, route))
            if outcome == Outcome.QUEUED:
                seen.add((Kind.QUEUED, route))
            elif outcome == Outcome.FAILED:
                seen.add((Kind.FAILED, route, decision.reason))
    return seen


class FilterRecordingRouter(Router):
    """The engine's router, noting how each `only` conjunct evaluates over the pool before each choice."""

    def __init__(self, policy: CompiledPolicy, roster: Roster, seen: set[ItemKey]):
        super().__init__(policy, roster)
        self.seen = seen

    def pick(self, route: CompiledRoute, contact: Any, now: Any, *more: Any) -> Any:
        fields, moment = contact.fields, self.now_fields(now)
        pool = self.roster.pool(route.team)
        for index, conjunct in enumerate(route.plan.conjuncts):
            for holds in (True, False):
                key = (Kind.FILTER, route.name, index, holds)
                if key not in self.seen and any(bool(conjunct.condition(u, fields, moment)) == holds for u in pool):
                    self.seen.add(key)
        return super().pick(route, contact, now, *more)


class FilterRecordingEngine(Engine):
    """The live engine with a FilterRecordingRouter: what `rota test` runs each case on."""

    def __init__(self, policy: CompiledPolicy, roster: Roster, seen: set[ItemKey]):
        self.seen = seen
        super().__init__(policy, roster)

    def use_policy(self, policy: CompiledPolicy) -> None:
        super().use_policy(policy)
        self.router = FilterRecordingRouter(policy, self.roster, self.seen)


@dataclass(frozen=True)
class PolicyCoverage:
    policy: str
    items: tuple[Item, ...]
    missed: tuple[Item, ...]

    @property
    def covered(self) -> int:
        return len(self.items) - len(self.missed)


def coverage_of(policy: str, items: list[Item], seen: set[ItemKey]) -> PolicyCoverage:
    return PolicyCoverage(policy, tuple(items), tuple(item for item in items if item.key not in seen))


def percent(coverages: Iterable[PolicyCoverage]) -> float:
    """Covered items over all items, as a percentage (100 when there is nothing to cover)."""
    listed = list(coverages)
    total = sum(len(c.items) for c in listed)
    return 100.0 if total == 0 else 100.0 * sum(c.covered for c in listed) / total
