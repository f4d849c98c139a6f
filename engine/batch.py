"""`rota batch`: route a backlog of contacts in one pass (SPEC 5.1).

The plan, so that a million contacts cost one loop of cheap steps:
1. DuckDB picks every contact's route in one query (the `when`s are SQL).
2. Each team/space route gets candidate sets (batch_plan.py).
3. One loop, in batch order (route priority descending, then input
   position), makes the assignments: candidate sets choose in O(log n), and
   only the filters on `open`/`last_assigned_at` are checked per pick. The
   contacts of user routes and of sets whose only per-pick checks are caps go
   through the compiled kernel (batch_kernel.py); the others through the
   Python loop here, which is also the reference the kernel is held to.
No time passes and nothing is drained within the pass.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from rota.dsl.ast import AssignToUser, Field, fields_of
from rota.storage import column_values, with_contact_columns
from rota.vocabulary import CONTACT_FIELDS, ContactField, Scope

from . import decisions as d
from .batch_kernel import KernelPass
from .batch_plan import CONTACTS_TABLE, RoutePlan, RoutePlanner
from .batch_rows import PassRows, arrow_indices, code_type
from .batch_targets import FAILURE_OF_CODE, Targets
from .candidates import LeastOpenSet, RoundRobinSet
from .clock import now_fields
from .compiler import ROUND_ROBIN, SPACE_ROUTE, TEAM_ROUTE, UNASSIGN_ROUTE, USER_ROUTE, CompiledPolicy, CompiledRoute
from .roster import Roster, User
from .snapshot import contact_kinds, create_users_view, user_kinds
from .sql import NotCompilable, SqlCompiler, SqlScope

PROGRESS_STEP = 65_536
BULK_CHECK_STEP = 4_096  # how often, once no count can fall, closed candidate sets are looked for
BULK_RUN = 32  # a run of at least this many sticky contacts that nobody holds is assigned in one step
USER_TARGET_AS_COLUMN = True  # a user route naming a contact field reads its column (tests turn it off)
KERNEL_PASS = True  # the contacts the compiled kernel covers go its way (tests turn it off to hold it to Python's)

Progress = Callable[[int, int], None]
BUILT_IN_CONTACT_FIELDS = set(CONTACT_FIELDS)  # every contact's, read with the fields a policy names
CONTACT_ID, CONTACT_ASSIGNEE = ContactField.ID.value, ContactField.ASSIGNEE.value


def run_batch(
    policy: CompiledPolicy,
    connection: duckdb.DuckDBPyConnection,
    roster: Roster,
    contacts: pa.Table,
    now: datetime,
    progress: Progress | None = None,
    encoded: bool = False,
) -> pa.Table:
    """Route every contact; one row per contact, in input order (SPEC 5.1 columns).

    `contacts` is read by rota.storage.read_contacts (or built alike): a column it lacks is null in
    every row, and the built-in `id` and `assignee` columns are always there. `encoded`: the route,
    outcome, user and reason columns as Arrow dictionary arrays (text all the same, and what
    rota.storage.write_table writes fastest)."""
    contacts = with_contact_columns(contacts)
    create_users_view(connection)
    connection.register(CONTACTS_TABLE, contacts)
    try:
        return _Batch(policy, connection, roster, contacts, now).run(progress, encoded)
    finally:
        connection.unregister(CONTACTS_TABLE)


class _Batch:
    def __init__(self, policy, connection, roster, contacts, now):
        self.policy = policy
        self.connection = connection
        self.roster = roster
        self.contacts = contacts
        self.now = now
        self.now_fields = now_fields(now, policy.zone)
        self.count = contacts.num_rows
        self.scope = SqlScope(
            user_alias="u",
            user_kinds=user_kinds(connection),
            contact_alias="c",
            contact_kinds=contact_kinds(contacts.schema),
            now=self.now_fields,
        )
        self._columns: dict[str, list] = {}

    def run(self, progress: Progress | None, encoded: bool) -> pa.Table:
        route_index = self.select_routes()
        routes = self.policy.routes
        priorities = np.array([route.route.priority for route in routes] + [0], dtype=np.int64)
        # Each route's priority as its rank, highest first, in the smallest whole type: NumPy's stable sort
        # of 8 or 16-bit numbers is a radix sort, six times faster on a million contacts than of int64s.
        _, rank = np.unique(-priorities, return_inverse=True)
        ranks = rank.astype(np.min_scalar_type(len(priorities)))
        order = np.argsort(ranks[route_index], kind="stable")  # stable: input order within a priority
        if (route_index < 0).any():  # no route: nothing changes (a policy with a catch-all route has none)
            order = order[route_index[order] >= 0]
        planner = RoutePlanner(
            self.connection,
            self.roster,
            SqlScope(**{**vars(self.scope), "contact_alias": "g"}),
            self.now,
            self.contacts,
        )
        plans: list[RoutePlan | None] = [None] * len(routes)
        targets = Targets(planner.keys, self.count, named=any(route.kind == USER_ROUTE for route in routes))
        for route in routes:
            positions = np.flatnonzero(route_index == route.index)
            if route.kind in (TEAM_ROUTE, SPACE_ROUTE):
                plans[route.index] = planner.plan(route, positions)
            elif route.kind == USER_ROUTE:
                self.name_targets(route, positions, targets)
        self.fallen = planner.fallen
        self.keys = planner.keys
        rows = self.assign(order, route_index, plans, targets, progress)
        return self.table(route_index, rows, plans, encoded)

    # ------------------------------------------------------------ selection

    def column(self, name: str) -> list:
        if name not in self._columns:
            column = self.contacts.column(name) if name in self.contacts.column_names else None
            # A column of nulls (no contact held by anyone, say) needs no reading.
            empty = column is None or column.null_count == len(column)
            self._columns[name] = [None] * self.count if empty else column_values(column)
        return self._columns[name]

    def contact_fields(self, position: int, names: tuple[str, ...]) -> dict[str, Any]:
        return {name: self.column(name)[position] for name in names}

    def select_routes(self) -> np.ndarray:
        """Every contact's route index (-1: no route), in one query when possible; in the narrowest type
        that holds them (batch_rows.code_type: a byte a contact for up to 128 routes)."""
        if not self.policy.routes:
            return np.full(self.count, -1, dtype=self.route_code_type)
        try:
            compiler = SqlCompiler(self.scope)
            cases = " ".join(
                f"WHEN {compiler.condition(route.route.when) if route.when else 'TRUE'} THEN {route.index}"
                for route in self.policy.routes
            )
            sql, parameters = compiler.statement(f"SELECT CASE {cases} ELSE -1 END FROM {CONTACTS_TABLE} c")
            result = self.connection.sql(sql, params=parameters).to_arrow_table()
            return result.column(0).to_numpy().astype(self.route_code_type)
        except NotCompilable:
            return self._select_routes_in_python()

    def _select_routes_in_python(self) -> np.ndarray:
        names = tuple(
            {f.name for r in self.policy.routes if r.route.when for f in fields_of(r.route.when)}
            | BUILT_IN_CONTACT_FIELDS
        )
        chosen = np.full(self.count, -1, dtype=self.route_code_type)
        for position in range(self.count):
            route = self.policy.select(self.contact_fields(position, names), self.now_fields)
            if route is not None:
                chosen[position] = route.index
        return chosen

    @property
    def route_code_type(self) -> type[np.signedinteger]:
        return code_type(len(self.policy.routes))

    def values_at(self, name: str, positions: np.ndarray) -> list:
        """A contact column's values at `positions` only (a column the contacts lack is null)."""
        if name not in self.contacts.column_names:
            return [None] * len(positions)
        return column_values(self.contacts.column(name).take(arrow_indices(positions)))

    def name_targets(self, route: CompiledRoute, positions: np.ndarray, targets: Targets) -> None:
        """For each contact of a user route, its user, or why it fails (SPEC 3.2)."""
        action, evaluate = route.route.action, route.target_user
        assert isinstance(action, AssignToUser) and evaluate is not None  # asked of user routes only
        if isinstance(action.user, Field) and action.user.scope == Scope.CONTACT and USER_TARGET_AS_COLUMN:
            # `assign to user contact.last_agent`, the usual sticky route: the column is the answer.
            name = action.user.name
            column = self.contacts.column(name) if name in self.contacts.column_names else None
            if column is not None and column.type == pa.string():
                targets.name_by_ids(positions, column.take(arrow_indices(positions)))
            else:
                targets.name_by_values(positions, self.values_at(name, positions))
            return
        names = tuple({f.name for f in fields_of(action.user)} | BUILT_IN_CONTACT_FIELDS)
        columns = [self.values_at(name, positions) for name in names]
        targets.name_by_values(
            positions, (evaluate(None, dict(zip(names, row)), self.now_fields) for row in zip(*columns))
        )

    # ----------------------------------------------------------------- loop

    def assign(self, order, route_index, plans, targets, progress) -> PassRows:
        """The ordered pass: SPEC 3.2-3.5 for every contact that has a route.

        Once no count can fall any more (no unassign, no contact taken from its
        holder later in the order), a candidate set where nobody passed stays so:
        its remaining contacts are queued in bulk instead of one by one."""
        rows = PassRows()
        set_of_position, sets, closable = self._set_of_position(route_index, plans)
        picks = self._picks(plans)
        first_order = self.roster.next_order
        last_shrink = self._last_possible_shrink(order, route_index)
        user_routes = np.array([route.kind == USER_ROUTE for route in self.policy.routes] + [False])
        sticky_unheld = user_routes[route_index] & ~self._held()
        kernel = self._kernel_pass(sets, closable, targets, set_of_position, can_fall=last_shrink >= 0)
        # The kernel's contacts: those of user routes and of the closable sets (caps their only per-pick checks).
        in_kernel = closable[set_of_position] | user_routes[route_index]
        lists: list[list] = []  # the route and set of every contact as plain lists, which index fastest

        def in_order(positions: np.ndarray) -> None:
            if not lists:  # made on first use: a pass in the kernel alone needs none
                lists.extend((route_index.tolist(), set_of_position.tolist()))
            route_of, set_of = lists
            self._assign_in_order(positions.tolist(), route_of, set_of, picks, sets, plans, targets, rows)

        pending, done, total, closed_count = order, 0, len(order), 0
        while len(pending):
            if progress is not None:
                progress(done, total)
            step = PROGRESS_STEP if done <= last_shrink else BULK_CHECK_STEP
            if kernel is not None:
                for run, covered in self._runs(pending[:step], in_kernel, 1):
                    if covered:
                        kernel.run(run)
                    else:
                        with kernel.handed_over(rows):
                            in_order(run)
            elif (run_length := _leading_run(pending, sticky_unheld)) >= BULK_RUN:
                step = run_length  # taken whole, not by steps: each step is a pass over the run's users
                self._assign_to_their_users(pending[:step], targets, rows)
            else:
                for run, in_bulk in self._runs(pending[:step], sticky_unheld, BULK_RUN):
                    if in_bulk:
                        self._assign_to_their_users(run, targets, rows)
                    else:
                        in_order(run)
            done += min(step, len(pending))
            pending = pending[step:]
            if done > last_shrink and len(pending) and closable.any():
                exhausted = kernel.exhausted(len(sets)) if kernel else np.array([s.exhausted for s in sets] + [False])
                closed = closable & exhausted
                if closed.sum() > closed_count:  # a set closed since the last look: its contacts are still pending
                    closed_count = closed.sum()
                    pending = pending[~closed[set_of_position[pending]]]  # queued, as every row is unless told
        if kernel is not None:
            kernel.finish(rows)
        if progress is not None:
            progress(total, total)
        self.roster.journal_rises_since(first_order)
        return rows

    def _assign_in_order(self, positions, route_index, set_of, picks, sets, plans, targets, rows):
        """`picks`, by candidate set (and None last, for contacts in none): (choose, the pool whose cursor
        moves) for a team or space route whose checks read no contact field; None sends a contact to `_decide`."""
        assignees = self.column(CONTACT_ASSIGNEE)
        roster, cursors, now = self.roster, self.roster.cursors, self.now
        # Bound once, called per contact.
        give, catch_up = roster.give_unjournalled, self.fallen.catch_up
        assigned_at, assigned_to = rows.assigned_at.append, rows.assigned_to.append
        for position in positions:
            set_index = set_of[position]
            pick = picks[set_index]
            if pick is not None:
                choose, moved_cursor = pick
                user = choose()
                if user is None:  # queued
                    continue
                if moved_cursor is not None:
                    cursors[moved_cursor] = user.id
            else:
                index = route_index[position]
                user = self._decide(position, index, assignees[position], sets, set_index, plans, targets, rows)
                if user is None:
                    continue
            previous = assignees[position]
            if previous is None:  # `give_unjournalled(user, None, now)`, written out for the common case
                user.open += 1
                user.last_assigned_at = now
                user.assigned_order = roster.next_order
                roster.next_order += 1
            else:
                give(user, previous, now)
                catch_up()  # a count may have fallen: the sets holding that user hear of it now
            assigned_at(position)
            assigned_to(user)

    def _decide(self, position, index, previous, sets, set_index, plans, targets, rows) -> User | None:
        """The contacts the loop's common case does not cover: unassign, user routes, routes that fail, checks
        that read the contact. The user to assign to, or None once the contact's outcome is recorded."""
        kind = self.policy.routes[index].kind
        if kind == UNASSIGN_ROUTE:
            rows.unassigned_at.append(position)
            self.roster.take_away(previous)
            self.fallen.catch_up()
            return None
        if kind == USER_ROUTE:
            user = targets.of(position)
            if isinstance(user, str):
                rows.fail(position, user)
                return None
            return user
        plan = plans[index]
        if plan.failure is not None:
            rows.fail(position, plan.failure)
            return None
        user = sets[set_index].choose(
            plan.accept_for(self.contact_fields(position, plan.contact_fields), self.now_fields)
        )
        if user is not None and plan.logic == ROUND_ROBIN:
            self.roster.cursors[plan.pool_key] = user.id
        return user  # None: queued

    @staticmethod
    def _runs(positions: np.ndarray, marked: np.ndarray, shortest: int):
        """`positions` cut into runs of at least `shortest` marked contacts (True) and the rest (False): for the
        kernel, the ones it covers; else runs of at least BULK_RUN sticky contacts nobody holds, which only
        name their users (no count they read can change within the run)."""
        at = marked[positions]
        edges = np.flatnonzero(np.diff(at.astype(np.int8))) + 1
        starts, stops = np.concatenate(([0], edges)), np.concatenate((edges, [len(positions)]))
        long_runs = at[starts] & (stops - starts >= shortest)
        plain_from = 0
        for start, stop in zip(starts[long_runs].tolist(), stops[long_runs].tolist()):
            if plain_from < start:
                yield positions[plain_from:start], False
            yield positions[start:stop], True
            plain_from = stop
        if plain_from < len(positions):
            yield positions[plain_from:], False

    def _assign_to_their_users(self, positions: np.ndarray, targets: Targets, rows: PassRows) -> None:
        """A run of sticky contacts nobody holds: the decisions of the one-by-one loop, made for the whole run
        at once, and each user's count and turn moved once."""
        places = targets.place[positions]
        for code, why in FAILURE_OF_CODE.items():
            rows.fail_all(positions[places == code], why)
        given = places >= 0
        positions, places = positions[given], places[given]
        rows.assign_all(positions, places, targets.users)
        distinct, first_from_end, contacts = np.unique(places[::-1], return_index=True, return_counts=True)
        last_turns = len(places) - 1 - first_from_end
        given_users = [targets.users[place] for place in distinct.tolist()]
        self.roster.give_in_bulk_unjournalled(
            zip(given_users, contacts.tolist(), last_turns.tolist()), len(places), self.now
        )

    def _kernel_pass(self, sets, closable, targets, set_of_position, can_fall: bool) -> KernelPass | None:
        """The compiled pass, over the closable sets (None: every contact goes the Python way)."""
        if not KERNEL_PASS:
            return None
        assignees = self.contacts.column(CONTACT_ASSIGNEE)
        return KernelPass.of(
            self.roster,
            self.keys,
            self.fallen,
            sets,
            closable[:-1],
            set_of_position,
            targets,
            assignees,
            self.now,
            can_fall,
        )

    def _set_of_position(self, route_index, plans) -> tuple[np.ndarray, list, np.ndarray]:
        """Each contact's candidate set, numbered (-1: none); the sets; which of them may be
        queued in bulk once exhausted (their checks are monotone), with False for -1 at the end."""
        set_of_position = np.full(self.count, -1, dtype=np.int64)
        sets: list[RoundRobinSet | LeastOpenSet] = []
        closable: list[bool] = []
        for plan in plans:
            if plan is None or not plan.candidate_sets:
                continue
            positions = np.flatnonzero(route_index == plan.route.index)
            groups = 0 if plan.group_of_contact is None else plan.group_of_contact
            set_of_position[positions] = len(sets) + groups
            sets.extend(plan.candidate_sets)
            closable.extend([not plan.dynamic] * len(plan.candidate_sets))
        return set_of_position, sets, np.array(closable + [False], dtype=bool)

    @staticmethod
    def _picks(plans) -> list:
        """For `_assign_in_order`, by candidate set in the order of `_set_of_position`, then None."""
        picks: list = []
        for plan in plans:
            if plan is None or not plan.candidate_sets:
                continue
            common = plan.failure is None and not plan.contact_fields
            moved_cursor = plan.pool_key if plan.logic == ROUND_ROBIN else None
            picks.extend(
                (candidate_set.chooser(plan.accept), moved_cursor) if common else None
                for candidate_set in plan.candidate_sets
            )
        return picks + [None]

    def _last_possible_shrink(self, order: np.ndarray, route_index: np.ndarray) -> int:
        """The last step of the pass that could make a count fall (-1: none)."""
        kinds = np.array([route.kind == UNASSIGN_ROUTE for route in self.policy.routes] + [False])
        shrinks = kinds[route_index[order]] | self._held()[order]
        steps = np.flatnonzero(shrinks)
        return int(steps[-1]) if len(steps) else -1

    def _held(self) -> np.ndarray:
        """Which contacts have an assignee."""
        return self.contacts.column(CONTACT_ASSIGNEE).is_valid().to_numpy(zero_copy_only=False)

    # --------------------------------------------------------------- output

    def table(self, route_index: np.ndarray, rows: PassRows, plans, encoded: bool) -> pa.Table:
        routes = self.policy.routes
        columns = rows.columns(
            route_index,
            [route.name for route in routes],
            [d.BY_USER if route.kind == USER_ROUTE else route.route.logic for route in routes],
            [plan.deadline if plan else None for plan in plans],
            encoded,
        )
        return pa.table({"contact": self.contacts.column(CONTACT_ID).cast(pa.string()), **columns})


def _leading_run(positions: np.ndarray, marked: np.ndarray) -> int:
    """How many of `positions`, from the first, are marked; looked at in doubling windows, so the
    cost follows the run's length, not the whole pass's."""
    length = BULK_CHECK_STEP
    while True:
        window = marked[positions[:length]]
        if not window.all():
            return int(np.argmin(window))
        if length >= len(positions):
            return len(positions)
        length *= 2
