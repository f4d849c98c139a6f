"""From a checked policy to routes the engine can run.

Each `only` is split into its top-level `and` conjuncts and analysed once
(filters.py): the router, the live engine and the batch planner read the
analysis from `CompiledRoute.plan`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from rota.dsl.ast import (
    AssignToSpace,
    AssignToTeam,
    AssignToUser,
    Expr,
    Policy,
    Reassign,
    Route,
    Unassign,
    fields_of,
)
from rota.vocabulary import SPACE_POOL, Logic, RouteKind, Scope, Status

from .evaluate import Evaluator, compile_condition, compile_expression
from .filters import Condition, FilterPlan, plan_filters

NO_FIELDS: dict[str, Any] = {}  # the contact and `now` given to filters that read neither

# Route kinds and logics as plain text, bound once: routing compares them for every decision.
USER_ROUTE, TEAM_ROUTE = RouteKind.USER.value, RouteKind.TEAM.value
SPACE_ROUTE, UNASSIGN_ROUTE = RouteKind.SPACE.value, RouteKind.UNASSIGN.value
ROUND_ROBIN, LEAST_OPEN = Logic.ROUND_ROBIN.value, Logic.LEAST_OPEN.value
ONLINE = Status.ONLINE.value


@dataclass(frozen=True)
class CompiledRoute:
    route: Route
    index: int
    when: Condition | None
    target_user: Evaluator | None
    plan: FilterPlan  # what each conjunct of the `only`s reads and the path it takes (filters.py)
    conjuncts: tuple[Expr, ...]
    filters: tuple[Condition, ...]
    # The filters split by what they read: only unchanging user fields (static,
    # cacheable per pool), or counts, times, the contact or now (checked per pick).
    static_filters: tuple[Condition, ...] = ()
    per_pick_filters: tuple[Condition, ...] = ()

    # The route's meaning, worked out once: the engine reads these per decision.
    @cached_property
    def name(self) -> str:
        return self.route.name

    @cached_property
    def kind(self) -> str:
        """A RouteKind's text: USER_ROUTE, TEAM_ROUTE, SPACE_ROUTE or UNASSIGN_ROUTE."""
        return ACTION_KINDS[type(self.route.action)]

    @cached_property
    def team(self) -> str | None:
        action = self.route.action
        return action.team if isinstance(action, AssignToTeam) else None

    @cached_property
    def pool_key(self) -> str | None:
        """Key of the shared round-robin cursor: the team's name, or `*` for the space."""
        if self.kind == TEAM_ROUTE:
            return self.team
        return SPACE_POOL if self.kind == SPACE_ROUTE else None

    @cached_property
    def logic(self) -> str:
        return self.route.logic

    @cached_property
    def priority(self) -> int:
        return self.route.priority

    @cached_property
    def timeout_seconds(self) -> int:
        return self.route.timeout_seconds

    @cached_property
    def reassigns(self) -> tuple[Reassign, ...]:
        """The `reassign` options (SPEC 4.1), `unanswered` before `away`."""
        return self.route.reassigns

    @cached_property
    def reassigns_by_trigger(self) -> dict[str, Reassign]:
        return {option.trigger: option for option in self.reassigns}

    def reassign(self, trigger: str) -> Reassign | None:
        """The route's `reassign when TRIGGER` option, if it has one (a release looks it up)."""
        return self.reassigns_by_trigger.get(trigger)

    def holds(self, contact: Any, now: Any) -> bool:
        return self.when is None or self.when(None, contact, now)

    def eligible(self, user: Any, contact: Any, now: Any) -> bool:
        return all(condition(user, contact, now) for condition in self.filters)


ACTION_KINDS = {
    AssignToUser: USER_ROUTE,
    AssignToTeam: TEAM_ROUTE,
    AssignToSpace: SPACE_ROUTE,
    Unassign: UNASSIGN_ROUTE,
}


@dataclass(frozen=True)
class CompiledPolicy:
    policy: Policy
    routes: tuple[CompiledRoute, ...]
    zone: ZoneInfo | None
    version: str
    by_name: dict[str, CompiledRoute] = field(init=False, repr=False, compare=False)
    # Whether a `when`, an `only` or an `assign to user` reads a `now.*` field: if none does, routing
    # needs no `now` fields at all.
    reads_now: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {route.name: route for route in self.routes})
        object.__setattr__(self, "reads_now", any(_reads_now(route.route) for route in self.routes))

    def route_named(self, name: str) -> CompiledRoute | None:
        return self.by_name.get(name)

    def select(self, contact: Any, now: Any) -> CompiledRoute | None:
        """SPEC 3.1: the first route whose `when` holds."""
        return next((route for route in self.routes if route.holds(contact, now)), None)


def _reads_now(route: Route) -> bool:
    action = route.action
    expressions = [*route.filters, *([route.when] if route.when is not None else [])]
    if isinstance(action, AssignToUser):
        expressions.append(action.user)
    return any(f.scope == Scope.NOW for expr in expressions for f in fields_of(expr))


def compile_route(route: Route, index: int) -> CompiledRoute:
    plan = plan_filters(route.filters)
    action = route.action
    return CompiledRoute(
        route=route,
        index=index,
        when=compile_condition(route.when) if route.when is not None else None,
        target_user=compile_expression(action.user) if isinstance(action, AssignToUser) else None,
        plan=plan,
        conjuncts=tuple(c.expr for c in plan.conjuncts),
        filters=tuple(c.condition for c in plan.conjuncts),
        static_filters=tuple(c.condition for c in plan.static),
        per_pick_filters=tuple(c.condition for c in plan.per_pick),
    )


def policy_version(policy: Policy) -> str:
    """A content hash of the policy's meaning: layout and comments do not change it."""
    meaning = repr((policy.timezone, policy.routes)).encode()
    return hashlib.sha256(meaning).hexdigest()[:16]


def compile_policy(policy: Policy) -> CompiledPolicy:
    """Compile a policy that has passed `rota.dsl.check`."""
    return CompiledPolicy(
        policy=policy,
        routes=tuple(compile_route(route, index) for index, route in enumerate(policy.routes)),
        zone=ZoneInfo(policy.timezone) if policy.timezone else None,
        version=policy_version(policy),
    )
