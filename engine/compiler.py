"""From a checked policy to routes the engine can run.

Each `only` is split into its top-level `and` conjuncts (Kleene `and` holds
exactly when every conjunct holds), so the batch planner can send the
conjuncts that read nothing changing to DuckDB and keep the rest in Python.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from rota.dsl.ast import (
    AssignToSpace,
    AssignToTeam,
    AssignToUser,
    BoolOp,
    Compare,
    Expr,
    Field,
    Literal,
    Policy,
    Route,
    Unassign,
    fields_of,
)
from rota.vocabulary import CHANGING_USER_FIELDS, SPACE_POOL, Logic, RouteKind, Scope, Status, UserField

from .evaluate import Evaluator, compile_condition, compile_expression

Condition = Callable[[Any, Any, Any], bool]

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
    conjuncts: tuple[Expr, ...]
    filters: tuple[Condition, ...]
    # The filters split by what they read: only unchanging user fields (static,
    # cacheable per pool), or counts, times, the contact or now (checked per pick).
    static_filters: tuple[Condition, ...] = ()
    per_pick_filters: tuple[Condition, ...] = ()
    # Every per-pick filter is a cap on `open`: the live engine keeps such a
    # route's candidates up to date instead of scanning its pool per decision.
    per_pick_caps_only: bool = True

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

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {route.name: route for route in self.routes})

    def route_named(self, name: str) -> CompiledRoute | None:
        return self.by_name.get(name)

    def select(self, contact: Any, now: Any) -> CompiledRoute | None:
        """SPEC 3.1: the first route whose `when` holds."""
        return next((route for route in self.routes if route.holds(contact, now)), None)


def conjuncts_of(expr: Expr) -> list[Expr]:
    if isinstance(expr, BoolOp) and expr.operator == "and":
        return conjuncts_of(expr.left) + conjuncts_of(expr.right)
    return [expr]


def reads_only_static_user_fields(conjunct: Expr) -> bool:
    return all(f.scope == Scope.USER and f.name not in CHANGING_USER_FIELDS for f in fields_of(conjunct))


def cap_of(conjunct: Expr) -> tuple[bool, float] | None:
    """`open < N` / `open <= N` (either way round) as (strict, N): a monotone cap."""
    if not isinstance(conjunct, Compare):
        return None
    left, right, symbol = conjunct.left, conjunct.right, conjunct.operator
    if isinstance(left, Literal) and isinstance(right, Field):
        left, right = right, left
        symbol = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(symbol, symbol)
    is_open = isinstance(left, Field) and left.scope == Scope.USER and left.name == UserField.OPEN
    value = right.value if isinstance(right, Literal) else None
    if is_open and isinstance(value, (int, float)) and not isinstance(value, bool) and symbol in ("<", "<="):
        return (symbol == "<", value)
    return None


def compile_filter(conjunct: Expr) -> Condition:
    """A cap and `only online` compile to one comparison; anything else to the general evaluator."""
    if isinstance(conjunct, Field) and conjunct.scope == Scope.USER and conjunct.name == UserField.ONLINE:
        return lambda user, contact, now: user.status == ONLINE  # a null status is not online either
    cap = cap_of(conjunct)
    if cap is None:
        return compile_condition(conjunct)
    strict, limit = cap
    if strict:
        return lambda user, contact, now: user.open < limit
    return lambda user, contact, now: user.open <= limit


def compile_route(route: Route, index: int) -> CompiledRoute:
    conjuncts = tuple(part for condition in route.filters for part in conjuncts_of(condition))
    per_pick = tuple(c for c in conjuncts if not reads_only_static_user_fields(c))
    action = route.action
    return CompiledRoute(
        route=route,
        index=index,
        when=compile_condition(route.when) if route.when is not None else None,
        target_user=compile_expression(action.user) if isinstance(action, AssignToUser) else None,
        conjuncts=conjuncts,
        filters=tuple(compile_filter(part) for part in conjuncts),
        static_filters=tuple(compile_filter(c) for c in conjuncts if reads_only_static_user_fields(c)),
        per_pick_filters=tuple(compile_filter(c) for c in per_pick),
        per_pick_caps_only=all(cap_of(c) is not None for c in per_pick),
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
