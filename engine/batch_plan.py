"""Planning one team/space route of a batch: its candidate sets and per-pick checks.

Each `only` conjunct goes where it is cheapest and still exact:
- reads only unchanging user fields (and `now`): a SQL filter, once;
- also reads contact fields: a SQL filter once per group of contacts that
  share those values (a join of the distinct groups with the users);
- reads `open` or `last_assigned_at`, which move during the pass, or cannot
  be matched in SQL: checked in Python each time a candidate is picked.
  `open < N` / `open <= N` caps are monotone (a user that fails keeps failing
  until a count falls), which lets candidate sets stop searching early.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from rota.dsl.ast import Expr, fields_of
from rota.vocabulary import CONTACT_FIELDS, Scope

from . import decisions as d
from .candidates import FallenCounts, LeastOpenSet, RoundRobinSet
from .compiler import LEAST_OPEN, TEAM_ROUTE, CompiledRoute
from .evaluate import compile_condition
from .filters import Conjunct, cap_of
from .roster import Roster, User
from .snapshot import USERS_VIEW
from .sql import NotCompilable, SqlCompiler, SqlScope, quote_identifier

# Past this many (group, user) pairs a contact-dependent filter is checked
# per pick in Python instead of being expanded into candidate sets.
GROUP_PAIR_LIMIT = 20_000_000
CONTACTS_TABLE = "rota_batch_contacts"


@dataclass
class RoutePlan:
    route: CompiledRoute
    deadline: datetime
    failure: str | None = None  # `team_empty` / `space_empty`
    candidate_sets: list = field(default_factory=list)
    group_of_contact: np.ndarray | None = None  # the group of each of the route's contacts, by position
    accept: Callable[[User], bool] | None = None  # when it reads no contact field
    dynamic: tuple = ()
    caps: tuple = ()
    contact_fields: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Read once per contact in the hot loop, so plain attributes.
        self.logic = self.route.route.logic
        self.pool_key = self.route.pool_key

    def accept_for(self, fields: dict[str, Any], now: dict[str, Any]) -> Callable[[User], bool] | None:
        """The per-pick check for one contact, when it reads contact fields."""
        return _acceptor(self.caps, self.dynamic, fields, now)


def _acceptor(caps, dynamic, fields, now) -> Callable[[User], bool] | None:
    if not caps and not dynamic:
        return None
    if len(caps) == 1 and not dynamic:
        strict, limit = caps[0]
        return (lambda user: user.open < limit) if strict else (lambda user: user.open <= limit)

    def accept(user: User) -> bool:
        for strict, limit in caps:
            if not (user.open < limit if strict else user.open <= limit):
                return False
        return all(condition(user, fields, now) for condition in dynamic)

    return accept


class RoutePlanner:
    def __init__(
        self, connection: duckdb.DuckDBPyConnection, roster: Roster, scope: SqlScope, now: datetime, contacts: pa.Table
    ):
        self.connection = connection
        self.roster = roster
        self.scope = scope
        self.now = now
        self.contacts = contacts  # the table registered as CONTACTS_TABLE
        self.fallen = FallenCounts(roster)  # the candidate sets learn of falling counts from the journal

    def plan(self, route: CompiledRoute, positions: np.ndarray) -> RoutePlan:
        from .clock import deadline_after

        plan = RoutePlan(route, deadline_after(self.now, route.route.timeout_seconds))
        pool_size = len(self.roster.pool(route.team))
        if pool_size == 0:
            plan.failure = d.TEAM_EMPTY if route.kind == TEAM_ROUTE else d.SPACE_EMPTY
            return plan
        if len(positions) == 0:
            return plan
        static, grouped, dynamic = self._classify(route.plan.conjuncts)
        # A contact field the contacts table lacks is null for every contact (the SQL reads NULL): no group.
        present = set(self.contacts.column_names)
        group_fields = sorted({f.name for c in grouped for f in fields_of(c) if f.scope == Scope.CONTACT} & present)
        if not group_fields:
            static, grouped = static + grouped, []
        elif self._distinct_groups(group_fields) * pool_size > GROUP_PAIR_LIMIT:
            dynamic, grouped, group_fields = dynamic + grouped, [], []
        plan.caps = tuple(cap for cap in map(cap_of, dynamic) if cap is not None)
        generic = [c for c in dynamic if cap_of(c) is None]
        plan.dynamic = tuple(compile_condition(c) for c in generic)
        reads_contact = any(f.scope == Scope.CONTACT for c in generic for f in fields_of(c))
        if reads_contact:
            plan.contact_fields = tuple({f.name for c in generic for f in fields_of(c)} | set(CONTACT_FIELDS))
        else:
            plan.accept = _acceptor(plan.caps, plan.dynamic, {}, self.scope.now)
        sets_of_ids, plan.group_of_contact = self._candidate_ids(route, static + grouped, group_fields, positions)
        plan.candidate_sets = [self._candidate_set(route, ids, monotone=not generic) for ids in sets_of_ids]
        return plan

    def _candidate_set(self, route: CompiledRoute, ids: list[str], monotone: bool):
        members = [self.roster.users[user_id] for user_id in ids]
        if route.route.logic == LEAST_OPEN:
            return LeastOpenSet(members, monotone, self.fallen)
        assert route.pool_key is not None  # plans are made for team and space routes only
        return RoundRobinSet(members, self.roster.cursors, route.pool_key, monotone, self.fallen)

    def _classify(self, conjuncts: tuple[Conjunct, ...]) -> tuple[list[Expr], list[Expr], list[Expr]]:
        """The route's conjuncts (analysed in filters.py) as static, grouped by contact values, or per pick."""
        static, grouped, dynamic = [], [], []
        for conjunct in conjuncts:
            if conjunct.changing or not self._compiles(conjunct.expr):
                dynamic.append(conjunct.expr)
            elif conjunct.reads_contact:
                grouped.append(conjunct.expr)
            else:
                static.append(conjunct.expr)
        return static, grouped, dynamic

    def _compiles(self, conjunct: Expr) -> bool:
        try:
            SqlCompiler(self.scope).condition(conjunct)
            return True
        except NotCompilable:
            return False

    def _distinct_groups(self, group_fields: list[str]) -> int:
        columns = ", ".join(quote_identifier(name) for name in group_fields)
        return self.connection.execute(
            f"SELECT count(*) FROM (SELECT DISTINCT {columns} FROM {CONTACTS_TABLE})"
        ).fetchall()[0][0]

    def _candidate_ids(self, route, conjuncts, group_fields, positions):
        """Sorted user ids per group, and each contact's group (None: one group)."""
        compiler = SqlCompiler(self.scope)
        pool = "NOT u.deleted"
        if route.kind == TEAM_ROUTE:
            pool += f" AND u.id IN (SELECT user_id FROM memberships WHERE team = {compiler.bind(route.team)})"
        where = " AND ".join([pool] + [compiler.condition(c) for c in conjuncts])
        if not group_fields:
            sql, parameters = compiler.statement(f"SELECT u.id FROM {USERS_VIEW} u WHERE {where} ORDER BY u.id")
            return [[row[0] for row in self.connection.execute(sql, parameters).fetchall()]], None
        return self._grouped_candidate_ids(compiler, where, group_fields, positions)

    def _grouped_candidate_ids(self, compiler, where, group_fields, positions):
        columns = ", ".join(quote_identifier(name) for name in group_fields)
        # The route's contacts' group values, gathered by Arrow: cheaper than numbering
        # every contact in SQL and joining the positions back.
        position_array = pa.array(positions, pa.int64())
        values = self.contacts.select(group_fields).take(position_array).append_column("position", position_array)
        self.connection.register("rota_batch_positions", values)
        try:
            self.connection.execute(
                f"CREATE OR REPLACE TEMP TABLE rota_batch_groups AS "
                f"SELECT position, dense_rank() OVER (ORDER BY {columns}) - 1 AS gid, {columns} "
                f"FROM rota_batch_positions"
            )
        finally:
            self.connection.unregister("rota_batch_positions")
        sql, parameters = compiler.statement(
            f"SELECT g.gid, u.id FROM (SELECT DISTINCT gid, {columns} FROM rota_batch_groups) g, {USERS_VIEW} u "
            f"WHERE {where} ORDER BY g.gid, u.id"
        )
        membership = self.connection.execute(sql, parameters).fetchall()
        group_count = self.connection.execute("SELECT count(DISTINCT gid) FROM rota_batch_groups").fetchall()[0][0]
        sets_of_ids: list[list[str]] = [[] for _ in range(group_count)]
        for gid, user_id in membership:
            sets_of_ids[gid].append(user_id)
        groups = self.connection.sql("SELECT gid FROM rota_batch_groups ORDER BY position").to_arrow_table()
        return sets_of_ids, groups.column(0).to_numpy().astype(np.int64)
