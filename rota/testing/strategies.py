"""Hypothesis strategies for snapshots, contacts, event logs and whole runs.

What to generate comes from a `Vocabulary`: the teams, user attributes and
contact attributes a policy reads, with the literals it compares them to
(so routes are actually reached and filters go both ways), merged with the
columns and values of a real snapshot when there is one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
from hypothesis import strategies as st

from rota.dsl.ast import AssignToTeam, AssignToUser, BoolOp, Compare, Field, ListLiteral, Literal, Not, Policy, children
from rota.engine import CompiledPolicy, Engine, Event
from rota.vocabulary import (
    CONTACT_FIELDS,
    SPACE_POOL,
    USER_FIELDS,
    ContactField,
    EventType,
    Scope,
    Status,
    UserField,
)

from .run import EngineFactory, Run, Snapshot, UserRecord, run_engine

# Byte order matters for round-robin: mixed case and non-ASCII ids on purpose.
DEFAULT_USER_IDS = ("u1", "u2", "u10", "A7", "zé", "b")
CONTACT_IDS = tuple(f"c{number}" for number in range(1, 7))
STATUSES = Status.texts()
ONLINE, AWAY, OFFLINE = Status.ONLINE.value, Status.AWAY.value, Status.OFFLINE.value
ROUTE, STATUS, CLOSE = EventType.ROUTE.value, EventType.STATUS.value, EventType.CLOSE.value
USER, DELETE, JOIN, LEAVE = EventType.USER.value, EventType.DELETE.value, EventType.JOIN.value, EventType.LEAVE.value
REPLY = EventType.REPLY.value
CONTACT_ASSIGNEE = ContactField.ASSIGNEE.value
MEMBERSHIP = "membership"  # a join or a leave, drawn as one kind
START = datetime(2026, 11, 23, 9, 0)  # a Monday morning
MOMENTS = (datetime(2026, 11, 20, 9), datetime(2026, 11, 21, 9), datetime(2026, 11, 21, 9, 30))
# Gaps between events: same instant, minutes, hours, a day, past the longest timeout.
GAPS = (0, 60, 300, 1200, 3600, 4 * 3600, 86400, 8 * 86400)
# Routing mostly, statuses often, the rest now and then; route first: shrinking moves towards it.
EVENT_MIX = (ROUTE,) * 8 + (STATUS,) * 4 + (CLOSE,) * 3 + (USER, MEMBERSHIP, MEMBERSHIP, DELETE)
REPLY_MIX = (REPLY,) * 4  # added to EVENT_MIX when replies are asked for (SPEC 4.1)
BUILT_IN_USER_FIELDS = frozenset(USER_FIELDS)
BUILT_IN_CONTACT_FIELDS = frozenset(CONTACT_FIELDS)


@dataclass(frozen=True)
class Attribute:
    """An attribute's values: scalars, or the items of list values."""

    is_list: bool = False
    values: tuple = ()

    def arrow_type(self) -> pa.DataType:
        kinds = {type(value) for value in self.values}
        scalar = (
            pa.bool_()
            if kinds == {bool}
            else pa.int64()
            if kinds == {int}
            else pa.float64()
            if kinds and kinds <= {int, float}
            else pa.string()
        )
        return pa.list_(scalar) if self.is_list else scalar

    def strategy(self) -> st.SearchStrategy:
        values = self.values or ("x", "y")
        if self.is_list:
            return st.one_of(st.lists(st.sampled_from(values), unique=True, max_size=3), st.none())
        return st.sampled_from(values + (None,))  # values first: shrinking keeps columns typed


@dataclass(frozen=True)
class Vocabulary:
    teams: tuple[str, ...] = ()
    user_ids: tuple[str, ...] = DEFAULT_USER_IDS
    user_attributes: Mapping[str, Attribute] = field(default_factory=dict)
    contact_attributes: Mapping[str, Attribute] = field(default_factory=dict)


def vocabulary(policy: Policy | CompiledPolicy, snapshot: Snapshot | None = None) -> Vocabulary:
    """What the policy reads, with the literals it compares to, plus the snapshot's columns and values."""
    policy = policy.policy if isinstance(policy, CompiledPolicy) else policy
    found = _Collector()
    for route in policy.routes:
        if isinstance(route.action, AssignToTeam):
            found.teams.add(route.action.team)
        if isinstance(route.action, AssignToUser):
            found.user_targets.append(route.action.user)
        for expr in ((route.when,) if route.when is not None else ()) + route.filters:
            found.visit(expr)
    if snapshot is not None:
        found.add_snapshot(snapshot)
    return found.vocabulary(snapshot)


@dataclass
class _Collector:
    teams: set = field(default_factory=set)
    user_targets: list = field(default_factory=list)
    values: dict = field(default_factory=dict)  # (scope, name) -> set of values
    lists: set = field(default_factory=set)  # (scope, name) read as lists
    linked: list = field(default_factory=list)  # pairs of fields compared with each other

    def visit(self, expr) -> None:
        if isinstance(expr, Field):
            self._note(expr, True, False)  # a bare field used as a condition
        elif isinstance(expr, Compare):
            self._compare(expr)
        elif isinstance(expr, (BoolOp, Not)):
            for child in children(expr):
                self.visit(child)

    def _compare(self, expr: Compare) -> None:
        left, right = expr.left, expr.right
        if expr.operator in ("in", "not in"):
            if isinstance(right, Field) and isinstance(left, Literal):
                self._note(right, left.value, True)
            elif isinstance(left, Field) and isinstance(right, ListLiteral):
                for item in right.items:
                    self._note(left, item.value, False)
            elif isinstance(left, Field) and isinstance(right, Field):
                self.lists.add((right.scope, right.name))
                self.linked.append(((left.scope, left.name), (right.scope, right.name)))
            return
        for field_side, other in ((left, right), (right, left)):
            if isinstance(field_side, Field) and isinstance(other, Literal):
                self._note(field_side, other.value, False)
                if isinstance(other.value, (int, float)) and not isinstance(other.value, bool):
                    self._note(field_side, other.value - 1, False)  # both sides of a threshold
                    self._note(field_side, other.value + 1, False)
        if isinstance(left, Field) and isinstance(right, Field):
            self.linked.append(((left.scope, left.name), (right.scope, right.name)))

    def _note(self, item: Field, value: Any, as_list: bool) -> None:
        key = (item.scope, item.name)
        if item.scope == Scope.USER and item.name == UserField.TEAMS and isinstance(value, str):
            self.teams.add(value)
        values = self.values.setdefault(key, set())
        if value is not None and not isinstance(value, list):
            values.add(value)
        if as_list:
            self.lists.add(key)

    def add_snapshot(self, snapshot: Snapshot) -> None:
        self.teams.update(team for team, _ in snapshot.memberships)
        for name, arrow_type in snapshot.attribute_types.items():
            key = (Scope.USER.value, name)
            values = self.values.setdefault(key, set())
            if pa.types.is_list(arrow_type):
                self.lists.add(key)
            for user in snapshot.users:
                value = user.attributes.get(name)
                items = value if isinstance(value, list) else [value]
                values.update(item for item in items if item is not None and not isinstance(item, (list, dict)))

    def vocabulary(self, snapshot: Snapshot | None) -> Vocabulary:
        for left, right in self.linked:  # compared fields share their values
            shared = self.values.setdefault(left, set()) | self.values.setdefault(right, set())
            self.values[left] = self.values[right] = shared
        # A handful of the snapshot's ids: runs draw users from them, and contacts name them.
        user_ids = (
            tuple(user.id for user in snapshot.users)[: len(DEFAULT_USER_IDS)]
            if snapshot is not None and snapshot.users
            else DEFAULT_USER_IDS
        )
        contact_attributes = self._attributes(Scope.CONTACT, BUILT_IN_CONTACT_FIELDS)
        for target in self.user_targets:
            if (
                isinstance(target, Field)
                and target.scope == Scope.CONTACT
                and target.name not in BUILT_IN_CONTACT_FIELDS
            ):
                contact_attributes[target.name] = Attribute(False, user_ids + ("ghost",))
        user_attributes = self._attributes(Scope.USER, BUILT_IN_USER_FIELDS)
        if snapshot is not None:
            for name in snapshot.attribute_types:
                user_attributes.setdefault(name, Attribute(False, ()))
        return Vocabulary(tuple(sorted(self.teams)), user_ids, user_attributes, contact_attributes)

    def _attributes(self, scope: Scope, built_in: frozenset) -> dict[str, Attribute]:
        return {
            name: Attribute((scope, name) in self.lists, tuple(sorted(values, key=repr)))
            for (field_scope, name), values in sorted(self.values.items())
            if field_scope == scope and name not in built_in
        }


# ------------------------------------------------------------------ snapshots
# Strategies are built once per call and drawn from many times: building one
# costs more than drawing from it, and shrinking draws thousands of times.


def snapshots(words: Vocabulary = Vocabulary(), min_users: int = 1, max_users: int = 6) -> st.SearchStrategy[Snapshot]:
    """A snapshot over the vocabulary's teams and user attributes (from scratch: `Vocabulary()`).

    Each user is drawn whole, with its teams, so shrinking can drop a user in one step."""
    user = st.builds(
        UserRecord,
        id=st.sampled_from(words.user_ids),
        # Mostly online and present, so routes have someone to choose.
        status=st.sampled_from((ONLINE, ONLINE, AWAY, OFFLINE)),
        deleted=st.sampled_from((False, False, False, True)),
        open=st.integers(0, 6),
        last_assigned_at=st.sampled_from((None,) + MOMENTS),
        attributes=st.fixed_dictionaries(
            {name: attribute.strategy() for name, attribute in words.user_attributes.items()}
        ),
    )
    teams = st.lists(st.sampled_from(words.teams), unique=True) if words.teams else st.just([])
    members = st.lists(
        st.tuples(user, teams),
        unique_by=lambda member: member[0].id,
        min_size=min(min_users, len(words.user_ids)),
        max_size=min(max_users, len(words.user_ids)),
    )
    cursors = st.lists(
        st.tuples(st.sampled_from(words.teams + (SPACE_POOL,)), st.sampled_from(words.user_ids)),
        unique_by=lambda cursor: cursor[0],
    )
    types = {name: attribute.arrow_type() for name, attribute in words.user_attributes.items()}
    return st.builds(
        lambda people, pools: Snapshot(
            tuple(person for person, _ in people),
            tuple((team, person.id) for person, person_teams in people for team in person_teams),
            tuple(pools),
            types,
        ),
        members,
        cursors,
    )


def contacts_for(words: Vocabulary | Policy | CompiledPolicy) -> st.SearchStrategy[dict[str, Any]]:
    """A contact's attributes, drawn from the values the policy's `when`s and filters compare them to."""
    if not isinstance(words, Vocabulary):
        words = vocabulary(words)
    return st.fixed_dictionaries({name: attribute.strategy() for name, attribute in words.contact_attributes.items()})


# ---------------------------------------------------------------- event logs


@dataclass(frozen=True)
class EventLog:
    events: tuple[Event, ...]
    until: datetime


def event_logs(
    words: Vocabulary = Vocabulary(), max_events: int = 25, replies: bool = False
) -> st.SearchStrategy[EventLog]:
    """Events of every type at increasing times, and an `until` that lets timeouts fire.

    Users are drawn from the vocabulary's ids (and one new id): those not in a
    snapshot are unknown to the engine until a `user` event creates them.
    `replies` adds SPEC 4.1's `reply` events (by the assignee or anyone else)."""
    users = st.sampled_from(words.user_ids + ("new",))
    contacts = st.sampled_from(CONTACT_IDS)
    statuses = st.sampled_from(STATUSES)
    teams = st.sampled_from(words.teams or ("Team",))
    assignees = st.one_of(st.none(), st.sampled_from(words.user_ids))
    by_kind = {
        ROUTE: st.builds(_routed, contacts, contacts_for(words), assignees),
        STATUS: st.builds(lambda user, status: {"type": STATUS, "user": user, "status": status}, users, statuses),
        CLOSE: st.builds(lambda contact: {"type": CLOSE, "contact": contact}, contacts),
        USER: st.builds(
            lambda user, status: {"type": USER, "user": user, "attrs": {UserField.STATUS.value: status}},
            users,
            statuses,
        ),
        MEMBERSHIP: st.builds(
            lambda kind, user, team: {"type": kind, "user": user, "team": team},
            st.sampled_from((JOIN, LEAVE)),
            users,
            teams,
        ),
        DELETE: st.builds(lambda user: {"type": DELETE, "user": user}, users),
        REPLY: st.builds(lambda contact, user: {"type": REPLY, "contact": contact, "user": user}, contacts, users),
    }
    kinds = st.sampled_from(EVENT_MIX + (REPLY_MIX if replies else ())).flatmap(by_kind.__getitem__)
    # Three short lists make a long one: a single list averages five elements.
    part = st.lists(st.tuples(st.sampled_from(GAPS), kinds), max_size=max(1, max_events // 3))
    steps = st.tuples(part, part, part).map(lambda parts: parts[0] + parts[1] + parts[2])
    return st.builds(_timed_log, steps, st.sampled_from((0, 1800, 3 * 3600, 8 * 86400)))


def _routed(contact: str, attrs: dict[str, Any], assignee: str | None) -> dict[str, Any]:
    attrs = {**attrs, CONTACT_ASSIGNEE: assignee} if assignee is not None else attrs
    return {"type": ROUTE, "contact": contact, "attrs": attrs}


def _timed_log(steps: list[tuple[int, dict[str, Any]]], tail_seconds: int) -> EventLog:
    events, moment = [], START
    for gap, fields in steps:
        moment += timedelta(seconds=gap)
        events.append(Event(at=moment, **fields))
    return EventLog(tuple(events), moment + timedelta(seconds=tail_seconds))


def runs(
    policy: CompiledPolicy,
    words: Vocabulary | None = None,
    engine_factory: EngineFactory = Engine,
    max_events: int = 25,
    replies: bool = False,
) -> st.SearchStrategy[Run]:
    """A snapshot and an event log for `policy` (with `reply` events when asked), run through the engine."""
    words = words or vocabulary(policy)
    return st.builds(
        lambda snapshot, log: run_engine(policy, snapshot, log.events, log.until, engine_factory),
        snapshots(words),
        event_logs(words, max_events, replies),
    )
