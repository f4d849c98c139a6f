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

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rota.dsl.ast import Expr, fields_of
from rota.vocabulary import CONTACT_FIELDS, Scope

from . import decisions as d
from .batch_rows import arrow_indices
from .candidates import FallenCounts, LeastOpenSet, RoundRobinSet
from .choice import PassKeys
from .compiler import LEAST_OPEN, TEAM_ROUTE, CompiledRoute
from .evaluate import compile_condition
from .filters import Conjunct, cap_of
from .roster import Roster, User
from .snapshot import USERS_VIEW
from .sql import NotCompilable, SqlCompiler, SqlScope, quote_identifier

# Past this many (group, user) pairs a contact-dependent filter is checked
# per pick in Python instead of being expanded into candidate sets.
GROUP_PAIR_LIMIT = 20_000_000
GROUPS_BY_ARROW = True  # contacts' groups numbered by Arrow's hashing (tests turn it off to hold the SQL numbering)
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


def open_limit(caps: tuple[tuple[bool, float], ...]) -> int | None:
    """The caps (strict, limit) as one: a user passes them all when its open count, a whole number, is
    below this (None: no cap). The language's numbers are finite (no exponent), so each has a floor."""
    return min((math.ceil(limit) if strict else math.floor(limit) + 1 for strict, limit in caps), default=None)


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
        self.keys = PassKeys.of(roster.users.values(), roster.next_order, contacts.num_rows)

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
        groups = self._contact_groups(group_fields, positions) if group_fields else None
        if groups is None:
            static, grouped = static + grouped, []
        elif groups[1].num_rows * pool_size > GROUP_PAIR_LIMIT:
            dynamic, grouped, groups = dynamic + grouped, [], None
        plan.caps = tuple(cap for cap in map(cap_of, dynamic) if cap is not None)
        generic = [c for c in dynamic if cap_of(c) is None]
        plan.dynamic = tuple(compile_condition(c) for c in generic)
        reads_contact = any(f.scope == Scope.CONTACT for c in generic for f in fields_of(c))
        if reads_contact:
            plan.contact_fields = tuple({f.name for c in generic for f in fields_of(c)} | set(CONTACT_FIELDS))
        elif generic:
            plan.accept = _acceptor(plan.caps, plan.dynamic, {}, self.scope.now)
        # Caps alone are the sets' own (an `open` bound), so a pick calls no `accept`.
        open_below = open_limit(plan.caps) if not generic else None
        sets_of_ids, plan.group_of_contact = self._candidate_ids(route, static + grouped, groups)
        plan.candidate_sets = [
            self._candidate_set(route, ids, monotone=not generic, open_below=open_below) for ids in sets_of_ids
        ]
        return plan

    def _candidate_set(self, route: CompiledRoute, ids: list[str], monotone: bool, open_below: int | None):
        members = [self.roster.users[user_id] for user_id in ids]
        if route.route.logic == LEAST_OPEN:
            return LeastOpenSet(members, monotone, self.fallen, self.keys, open_below)
        assert route.pool_key is not None  # plans are made for team and space routes only
        return RoundRobinSet(members, self.roster.cursors, route.pool_key, monotone, self.fallen, open_below)

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

    def _contact_groups(self, group_fields: list[str], positions: np.ndarray) -> tuple[np.ndarray, pa.Table]:
        """The group of each of the route's contacts (equal values in `group_fields`, numbered from 0)
        and a table of one row of those values per group, with its number as `gid`."""
        values = self.contacts.select(group_fields).take(arrow_indices(positions))
        numbered = _numbered_groups(values) if GROUPS_BY_ARROW else None
        return self._numbered_groups_in_sql(values, group_fields) if numbered is None else numbered

    def _candidate_ids(self, route, conjuncts, groups):
        """Sorted user ids per group, and each contact's group (None: one group)."""
        compiler = SqlCompiler(self.scope)
        pool = "NOT u.deleted"
        if route.kind == TEAM_ROUTE:
            pool += f" AND u.id IN (SELECT user_id FROM memberships WHERE team = {compiler.bind(route.team)})"
        where = " AND ".join([pool] + [compiler.condition(c) for c in conjuncts])
        if groups is None:
            sql, parameters = compiler.statement(f"SELECT u.id FROM {USERS_VIEW} u WHERE {where} ORDER BY u.id")
            return [[row[0] for row in self.connection.execute(sql, parameters).fetchall()]], None
        group_of_contact, group_values = groups
        self.connection.register("rota_batch_groups", group_values)
        try:
            sql, parameters = compiler.statement(
                f"SELECT g.gid, u.id FROM rota_batch_groups g, {USERS_VIEW} u WHERE {where} ORDER BY g.gid, u.id"
            )
            membership = self.connection.sql(sql, params=parameters).to_arrow_table()
        finally:
            self.connection.unregister("rota_batch_groups")
        # Rows in group order: each group's ids are one slice, cut where the next group begins.
        gids = membership.column("gid").to_numpy()
        bounds = np.searchsorted(gids, np.arange(group_values.num_rows + 1))
        ids = membership.column("id").to_pylist()
        return [ids[start:end] for start, end in zip(bounds[:-1], bounds[1:])], group_of_contact

    def _numbered_groups_in_sql(self, values: pa.Table, group_fields: list[str]) -> tuple[np.ndarray, pa.Table]:
        """For values Arrow cannot hash (lists, JSON): numbered by DuckDB's dense_rank."""
        columns = ", ".join(quote_identifier(name) for name in group_fields)
        self.connection.register("rota_batch_positions", values.append_column("position", pa.array(range(len(values)))))
        try:
            numbered = self.connection.sql(
                f"SELECT dense_rank() OVER (ORDER BY {columns}) - 1 AS gid, {columns} "
                f"FROM rota_batch_positions ORDER BY position"
            ).to_arrow_table()
        finally:
            self.connection.unregister("rota_batch_positions")
        group_of_contact = numbered.column("gid").to_numpy().astype(np.int64)
        _, first = np.unique(group_of_contact, return_index=True)
        return group_of_contact, numbered.take(arrow_indices(first))


def _numbered_groups(values: pa.Table) -> tuple[np.ndarray, pa.Table] | None:
    """Each row's group (rows with equal values share one, numbered from 0 in order of first appearance)
    and one row of values per group with its number as `gid`; None when a column's values cannot be
    hashed by Arrow. Hashing only, no sort: O(rows)."""
    codes: np.ndarray | None = None
    for column in values.columns:
        try:
            indices = _first_appearance_codes(column.combine_chunks())
        except pa.ArrowNotImplementedError:
            return None
        # Renumbered densely after each column, so the combined numbers stay below the row count.
        codes = indices if codes is None else _first_appearance_codes(pa.array(codes * (indices.max() + 1) + indices))
    assert codes is not None  # grouped by at least one field
    # Numbered in order of first appearance, a group's first row is where the running highest number rises.
    rises = np.empty(len(codes), dtype=bool)
    rises[:1] = True
    np.greater(codes[1:], np.maximum.accumulate(codes)[:-1], out=rises[1:])
    first = np.flatnonzero(rises)
    return codes, values.take(arrow_indices(first)).append_column("gid", pa.array(range(len(first)), pa.int64()))


def _first_appearance_codes(values: pa.Array) -> np.ndarray:
    """Each value's number, 0 for the first value seen, 1 for the next new one...; null is a value."""
    encoded = pc.dictionary_encode(values, null_encoding="encode")
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
