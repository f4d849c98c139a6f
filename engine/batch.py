"""`rota batch`: route a backlog of contacts in one pass (SPEC 5.1).

The plan, so that a million contacts cost one loop of cheap steps:
1. DuckDB picks every contact's route in one query (`when`s are SQL).
2. For each team/space route, DuckDB applies the filters that read nothing
   changing, once per group of contacts that share the contact values those
   filters read (one group when they read none), giving candidate sets.
3. One Python loop, in batch order (route priority descending, then input
   position), makes the assignments: candidate sets choose in O(log n), and
   only the filters on `open`/`last_assigned_at` are checked per pick.
No time passes and nothing is drained within the pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

import duckdb
import numpy as np
import pyarrow as pa

from rota.dsl.ast import Compare, Expr, Field, Literal, fields_of

from . import decisions as d
from .candidates import LeastOpenSet, RoundRobinSet
from .clock import deadline_after, now_fields
from .compiler import CompiledPolicy, CompiledRoute
from .evaluate import CHANGING_USER_FIELDS, compile_condition, compile_expression
from .roster import Roster
from .router import as_user_id
from .snapshot import USERS_VIEW, contact_kinds, create_users_view, user_kinds
from .sql import NotCompilable, SqlCompiler, SqlScope, quote_identifier

CONTACTS_TABLE = "rota_batch_contacts"
# Past this many (group, user) pairs a contact-dependent filter is checked
# per pick in Python instead of being expanded into candidate sets.
GROUP_PAIR_LIMIT = 20_000_000
PROGRESS_STEP = 65_536

Progress = Callable[[int, int], None]


@dataclass
class RoutePlan:
    route: CompiledRoute
    deadline: datetime
    pool_size: int = 0
    candidate_sets: list = None
    group_of_contact: dict | np.ndarray | None = None
    dynamic: tuple = ()
    caps: tuple = ()
    reads_contact: bool = False


def run_batch(
    policy: CompiledPolicy,
    connection: duckdb.DuckDBPyConnection,
    roster: Roster,
    contacts: pa.Table,
    now: datetime,
    progress: Progress | None = None,
) -> pa.Table:
    """Route every contact; one row per contact, in input order."""
    planner = _Planner(policy, connection, roster, contacts, now)
    try:
        return planner.run(progress)
    finally:
        connection.unregister(CONTACTS_TABLE)


class _Planner:
    def __init__(self, policy, connection, roster, contacts, now):
        self.policy = policy
        self.connection = connection
        self.roster = roster
        self.contacts = contacts
        self.now = now
        self.now_fields = now_fields(now, policy.zone)
        self.count = contacts.num_rows
        self.contact_kinds = contact_kinds(contacts.schema)
        create_users_view(connection)
        connection.register(CONTACTS_TABLE, contacts)
        self._column_cache: dict[str, list] = {}

    # ------------------------------------------------------------ selection

    def column(self, name: str) -> list:
        if name not in self._column_cache:
            if name in self.contacts.column_names:
                self._column_cache[name] = self.contacts.column(name).to_pylist()
            else:
                self._column_cache[name] = [None] * self.count
        return self._column_cache[name]

    def contact_fields(self, position: int, names: tuple[str, ...]) -> dict[str, Any]:
        return {name: self.column(name)[position] for name in names}

    def select_routes(self) -> np.ndarray:
        """Every contact's route index (-1: no route), in one query when possible."""
        if not self.policy.routes:
            return np.full(self.count, -1, dtype=np.int32)
        try:
            compiler = SqlCompiler(SqlScope(user_alias=None, contact_alias="c", contact_kinds=self.contact_kinds,
                                            now=self.now_fields))
            cases = " ".join(
                f"WHEN {compiler.condition(route.route.when) if route.when else 'TRUE'} THEN {route.index}"
                for route in self.policy.routes
            )
            sql, parameters = compiler.statement(f"SELECT CASE {cases} ELSE -1 END FROM {CONTACTS_TABLE} c")
            result = self.connection.sql(sql, params=parameters).to_arrow_table()
            return result.column(0).to_numpy().astype(np.int32)
        except NotCompilable:
            return self._select_routes_in_python()

    def _select_routes_in_python(self) -> np.ndarray:
        names = tuple({f.name for r in self.policy.routes if r.route.when for f in fields_of(r.route.when)}
                      | {"id", "assignee"})
        chosen = np.full(self.count, -1, dtype=np.int32)
        for position in range(self.count):
            route = self.policy.select(self.contact_fields(position, names), self.now_fields)
            if route is not None:
                chosen[position] = route.index
        return chosen

    def target_users(self, route: CompiledRoute, positions: np.ndarray) -> dict[int, Any]:
        expr = route.route.action.user
        names = tuple({f.name for f in fields_of(expr)} | {"id", "assignee"})
        evaluate = route.target_user
        return {int(p): evaluate(None, self.contact_fields(int(p), names), self.now_fields) for p in positions}

    # ------------------------------------------------------- candidate sets

    def plan_route(self, route: CompiledRoute, positions: np.ndarray) -> RoutePlan:
        plan = RoutePlan(route, deadline_after(self.now, route.route.timeout_seconds))
        plan.pool_size = len(self.roster.pool(route.team))
        if plan.pool_size == 0 or len(positions) == 0:
            return plan
        static, grouped, dynamic = self._classify(route.conjuncts)
        group_fields = sorted({f.name for c in grouped for f in fields_of(c) if f.scope == "contact"})
        if grouped and not self._groups_fit(group_fields, positions, plan.pool_size):
            dynamic, grouped, group_fields = dynamic + grouped, [], []
        plan.caps = tuple(cap for cap in map(_cap_of, dynamic) if cap is not None)
        generic = [c for c in dynamic if _cap_of(c) is None]
        plan.dynamic = tuple(compile_condition(c) for c in generic)
        plan.reads_contact = any(f.scope == "contact" for c in generic for f in fields_of(c))
        plan.contact_field_names = tuple({f.name for c in generic for f in fields_of(c)} | {"id", "assignee"})
        monotone = not generic
        sets_of_ids, plan.group_of_contact = self._candidate_ids(route, static + grouped, group_fields, positions)
        users = self.roster.users
        make = (lambda members: LeastOpenSet(members, monotone)) if route.route.logic == "least_open" else (
            lambda members: RoundRobinSet(members, self.roster.cursors, route.pool_key, monotone))
        plan.candidate_sets = [make([users[user_id] for user_id in ids]) for ids in sets_of_ids]
        return plan

    def _classify(self, conjuncts: tuple[Expr, ...]) -> tuple[list, list, list]:
        static, grouped, dynamic = [], [], []
        for conjunct in conjuncts:
            fields = fields_of(conjunct)
            if any(f.scope == "user" and f.name in CHANGING_USER_FIELDS for f in fields) or not self._compiles(conjunct):
                dynamic.append(conjunct)
            elif any(f.scope == "contact" for f in fields):
                grouped.append(conjunct)
            else:
                static.append(conjunct)
        return static, grouped, dynamic

    def _scope(self, contact_alias: str | None = "g") -> SqlScope:
        return SqlScope(user_alias="u", user_kinds=user_kinds(self.connection), contact_alias=contact_alias,
                        contact_kinds=self.contact_kinds, now=self.now_fields)

    def _compiles(self, conjunct: Expr) -> bool:
        try:
            SqlCompiler(self._scope()).condition(conjunct)
            return True
        except NotCompilable:
            return False

    def _groups_fit(self, group_fields: list[str], positions: np.ndarray, pool_size: int) -> bool:
        columns = ", ".join(quote_identifier(name) for name in group_fields)
        distinct = self.connection.execute(
            f"SELECT count(*) FROM (SELECT DISTINCT {columns} FROM {CONTACTS_TABLE})").fetchall()[0][0]
        return distinct * pool_size <= GROUP_PAIR_LIMIT

    def _candidate_ids(self, route, conjuncts, group_fields, positions):
        """Sorted user ids per group, and each contact's group (None: one group)."""
        compiler = SqlCompiler(self._scope())
        pool = "NOT u.deleted"
        if route.kind == "team":
            pool += f" AND u.id IN (SELECT user_id FROM memberships WHERE team = {compiler.bind(route.team)})"
        where = " AND ".join([pool] + [compiler.condition(c) for c in conjuncts])
        if not group_fields:
            sql, parameters = compiler.statement(f"SELECT u.id FROM {USERS_VIEW} u WHERE {where} ORDER BY u.id")
            return [[row[0] for row in self.connection.execute(sql, parameters).fetchall()]], None
        return self._grouped_candidate_ids(compiler, where, group_fields, positions)

    def _grouped_candidate_ids(self, compiler, where, group_fields, positions):
        columns = ", ".join(quote_identifier(name) for name in group_fields)
        self.connection.register("rota_batch_positions", pa.table({"position": pa.array(positions, pa.int64())}))
        try:
            self.connection.execute(
                f"CREATE OR REPLACE TEMP TABLE rota_batch_groups AS "
                f"SELECT p.position, dense_rank() OVER (ORDER BY {columns}) - 1 AS gid, {columns} "
                f"FROM rota_batch_positions p JOIN (SELECT row_number() OVER () - 1 AS position, {columns} "
                f"FROM {CONTACTS_TABLE}) c USING (position)")
        finally:
            self.connection.unregister("rota_batch_positions")
        sql, parameters = compiler.statement(
            f"SELECT g.gid, u.id FROM (SELECT DISTINCT gid, {columns} FROM rota_batch_groups) g, {USERS_VIEW} u "
            f"WHERE {where} ORDER BY g.gid, u.id")
        membership = self.connection.execute(sql, parameters).fetchall()
        group_count = self.connection.execute("SELECT count(DISTINCT gid) FROM rota_batch_groups").fetchall()[0][0]
        sets_of_ids = [[] for _ in range(group_count)]
        for gid, user_id in membership:
            sets_of_ids[gid].append(user_id)
        pairs = self.connection.sql("SELECT position, gid FROM rota_batch_groups").to_arrow_table()
        group_of = dict(zip(pairs.column(0).to_pylist(), pairs.column(1).to_pylist()))
        return sets_of_ids, group_of

    # ----------------------------------------------------------------- loop

    def run(self, progress: Progress | None) -> pa.Table:
        route_index = self.select_routes()
        routes = self.policy.routes
        priorities = np.array([route.route.priority for route in routes] + [0], dtype=np.int64)
        order = np.lexsort((np.arange(self.count), -priorities[route_index]))
        plans = {}
        targets = {}
        for route in routes:
            positions = np.flatnonzero(route_index == route.index)
            if route.kind in ("team", "space"):
                plans[route.index] = self.plan_route(route, positions)
            elif route.kind == "user":
                targets.update(self.target_users(route, positions))
        listener = _shrink_listener(plans)
        self.roster.shrink_listeners.append(listener)
        try:
            outcome, user, reason = self._assign(order.tolist(), route_index.tolist(), plans, targets, progress)
        finally:
            self.roster.shrink_listeners.remove(listener)
        return self._table(route_index, outcome, user, reason, plans)

    def _assign(self, order, route_index, plans, targets, progress):
        count = self.count
        outcome = [d.NO_ROUTE] * count
        chosen_user: list[str | None] = [None] * count
        reason: list[str | None] = [None] * count
        assignees = self.column("assignee")
        roster = self.roster
        users = roster.users
        kinds = [route.kind for route in self.policy.routes]
        cursors = roster.cursors
        now = self.now
        for done, position in enumerate(order, 1):
            index = route_index[position]
            if progress is not None and done % PROGRESS_STEP == 0:
                progress(done, count)
            if index < 0:
                continue
            kind = kinds[index]
            previous = assignees[position]
            if kind == "unassign":
                outcome[position] = d.UNASSIGNED
                roster.take_away(previous)
                continue
            if kind == "user":
                target = as_user_id(targets[position])
                user = users.get(target) if target is not None else None
                if user is None or user.deleted:
                    outcome[position] = d.FAILED
                    reason[position] = d.USER_NOT_FOUND if user is None else d.USER_DELETED
                    continue
                picked_reason = d.BY_USER
            else:
                plan = plans[index]
                if plan.pool_size == 0:
                    outcome[position] = d.FAILED
                    reason[position] = d.TEAM_EMPTY if kind == "team" else d.SPACE_EMPTY
                    continue
                group = 0 if plan.group_of_contact is None else plan.group_of_contact[position]
                user = plan.candidate_sets[group].choose(self._accept(plan, position))
                if user is None:
                    outcome[position] = d.QUEUED
                    continue
                picked_reason = plan.route.route.logic
                if picked_reason == "round_robin":
                    cursors[plan.route.pool_key] = user.id
            roster.give(user, previous, now)
            outcome[position] = d.ASSIGNED
            chosen_user[position] = user.id
            reason[position] = picked_reason
        if progress is not None:
            progress(count, count)
        return outcome, chosen_user, reason

    def _accept(self, plan: RoutePlan, position: int):
        caps, dynamic = plan.caps, plan.dynamic
        if not caps and not dynamic:
            return None
        fields = self.contact_fields(position, plan.contact_field_names) if plan.reads_contact else {}
        now = self.now_fields

        def accept(user) -> bool:
            for strict, limit in caps:
                if not (user.open < limit if strict else user.open <= limit):
                    return False
            return all(condition(user, fields, now) for condition in dynamic)

        return accept

    def _table(self, route_index, outcome, user, reason, plans) -> pa.Table:
        names = pa.array([route.name for route in self.policy.routes] + [None], pa.string())
        deadline_by_route = [plans[i].deadline if i in plans else None for i in range(len(self.policy.routes))]
        deadlines = [deadline_by_route[route_index[p]] if outcome[p] == d.QUEUED else None
                     for p in range(self.count)] if d.QUEUED in outcome else [None] * self.count
        return pa.table({
            "contact": self.contacts.column("id").cast(pa.string()),
            "route": names.take(pa.array(np.where(route_index < 0, len(self.policy.routes), route_index))),
            "outcome": pa.array(outcome, pa.string()),
            "user": pa.array(user, pa.string()),
            "reason": pa.array(reason, pa.string()),
            "deadline": pa.array(deadlines, pa.timestamp("us")),
        })


def _shrink_listener(plans: dict[int, RoutePlan]):
    """Tell the candidate sets holding a user that its open count shrank."""
    sets_of_user: dict[str, list] = {}
    for plan in plans.values():
        for candidate_set in plan.candidate_sets or ():
            for user in candidate_set.members():
                sets_of_user.setdefault(user.id, []).append(candidate_set)

    def listener(user) -> None:
        for candidate_set in sets_of_user.get(user.id, ()):
            candidate_set.key_shrank(user)

    return listener


def _cap_of(conjunct: Expr) -> tuple[bool, float] | None:
    """`open < N` / `open <= N` (either way round) as (strict, N): a monotone cap."""
    if not isinstance(conjunct, Compare):
        return None
    left, right, symbol = conjunct.left, conjunct.right, conjunct.operator
    if isinstance(left, Literal) and isinstance(right, Field):
        left, right = right, left
        symbol = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(symbol, symbol)
    is_open = isinstance(left, Field) and left.scope == "user" and left.name == "open"
    is_number = isinstance(right, Literal) and isinstance(right.value, (int, float)) and not isinstance(right.value, bool)
    if is_open and is_number and symbol in ("<", "<="):
        return (symbol == "<", right.value)
    return None
