"""The living engine of SPEC 4 and 4.1: events, the queue, drains, timeouts and release timers.

The clock is given, never read: every event carries its time, and
`advance(until)` fires the timeouts and release timers due by then. Each
step returns its decisions in the order SPEC 4 gives: the event's own
decision, then the drain's assignments; for a timeout, `timed_out`, the
branch's decision, then the drain; for a release, `released`, the branch's
decision, then the drain.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rota.dsl.ast import fields_of
from rota.storage import contact_attributes, user_attributes
from rota.storage.kinds import known_status, value_kind
from rota.vocabulary import (
    CONTACT_FIELDS,
    NEW_USER_STATUS,
    NOT_USER_ATTRIBUTES,
    UNASSIGN_BRANCH,
    USER_DELETED_COLUMN,
    ContactField,
    EventType,
    Scope,
    Status,
    UserField,
)

from . import decisions as d
from .clock import deadline_after, parse_instant
from .compiler import NO_FIELDS, CompiledPolicy, CompiledRoute
from .decisions import Decision
from .filters import Path
from .queue import ClassKey, Queue, QueueEntry
from .releases import Releases, ReleaseTimer
from .roster import JournalReader, Roster, User
from .router import NO_USERS, Contact, Router

EVENT_TYPES = EventType.texts()
# Event types as plain text, bound once: every event is dispatched on one.
ROUTE, STATUS, CLOSE, USER = EventType.ROUTE.value, EventType.STATUS.value, EventType.CLOSE.value, EventType.USER.value
DELETE, JOIN, LEAVE = EventType.DELETE.value, EventType.JOIN.value, EventType.LEAVE.value
REPLY = EventType.REPLY.value
PRESENCE_EVENTS = frozenset({STATUS, USER, DELETE})  # the events that can change whether a user is online
ONLINE = Status.ONLINE.value
CONTACT_ASSIGNEE = ContactField.ASSIGNEE.value
LIST_KIND = value_kind([])
BUILT_IN_CONTACT_FIELDS = frozenset(CONTACT_FIELDS)  # the engine's own: a `route` event's attrs cannot set them
# A `user` event's attrs that set a User's own attribute, not one of its `attributes`.
USER_TEXT_FIELDS = (UserField.STATUS.value, UserField.NAME.value)


@dataclass(frozen=True)
class Event:
    at: datetime
    type: str
    contact: str | None = None
    user: str | None = None
    team: str | None = None
    status: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass(eq=False)
class ContactState:
    contact: Contact
    closed: bool = False


class Engine:
    """One engine holds all routing state; it changes only through `handle` and `advance`."""

    def __init__(self, policy: CompiledPolicy, roster: Roster):
        self.roster = roster
        self._drain_reader = JournalReader(roster.journal)  # the users changed since the last drain
        self._not_rises_seen = roster.journal.not_rises
        self.contacts: dict[str, ContactState] = {}
        self.queue = Queue()
        self.releases = Releases()
        self.use_policy(policy)

    def use_policy(self, policy: CompiledPolicy) -> None:
        """Takes effect between two decisions; queued contacts keep their place."""
        self.policy = policy
        self.router = Router(policy, self.roster)
        self._class_fields = {
            route.name: tuple(
                sorted({f.name for c in route.conjuncts for f in fields_of(c) if f.scope == Scope.CONTACT})
            )
            for route in policy.routes
        }
        self._reads_now = {route.name for route in policy.routes if any(c.reads_now for c in route.plan.conjuncts)}
        # Routes with a filter that a rising count or a later assignment can make hold (`open > 2`, say):
        # for the others (no such filter, or caps only, which are monotone), a rise unblocks nothing.
        self._rises_matter = any(c.changing and c.path is not Path.CAP for r in policy.routes for c in r.plan.conjuncts)
        self._last_moment: dict | None = None
        for contact_id in list(self.queue.entries):  # the classes depend on the routes' filters
            self._requeue_in_class(contact_id)

    # ----------------------------------------------------------------- steps

    def handle(self, event: Event) -> list[Decision]:
        """Fire the timeouts due before the event, apply it, then drain."""
        decisions = self.advance(event.at, inclusive=False)
        decisions += self._apply(event)
        decisions += self.drain(event.at)
        return decisions

    def advance(self, until: datetime, inclusive: bool = True) -> list[Decision]:
        """Fire every timeout and release timer due before `until` (or at it, when inclusive), in order:
        at one instant deadlines first, then release timers in the order they were set (SPEC 4.1)."""
        decisions: list[Decision] = []
        releases = self.releases
        while True:
            timer = releases.first_due(until, inclusive) if releases.timers else None  # no timers: none due
            entry = self.queue.pop_due(until, inclusive) if timer is None else self.queue.pop_due(timer[0], True)
            if entry is not None:
                decisions += self._time_out(entry)
                decisions += self.drain(entry.deadline)
            elif timer is not None:
                decisions += self._release(*timer)
                decisions += self.drain(timer[0])
            else:
                return decisions

    def drain(self, now: datetime) -> list[Decision]:
        """Assign the first queued contact in queue order that has a candidate, until none has.

        A class found with no candidate stays blocked until a user it could take
        changes (or, for filters on `now`, the clock moves): so a drain looks at
        the classes an event could have unblocked, not at the whole queue."""
        decisions = []
        self._unblock_classes(now)
        while (decision := self._place_first(now)) is not None:
            decisions.append(decision)
            self._unblock_classes(now)
        return decisions

    def _unblock_classes(self, now: datetime) -> None:
        moment = self.router.now_fields(now) if self._reads_now else NO_FIELDS
        clock_moved, self._last_moment = moment != self._last_moment, moment
        reader, journal = self._drain_reader, self.roster.journal
        if not clock_moved and not reader.behind:  # nothing changed since the last look
            return
        if not clock_moved and not self._rises_matter and journal.not_rises == self._not_rises_seen:
            reader.skip()  # only counts rose since the last look: no blocked class can take anyone more
            return
        self._not_rises_seen = journal.not_rises
        entries = reader.read()
        if entries is None:  # too many changes to tell who: any class might be placeable
            for klass in self.queue.classes.values():
                klass.unblock()
            return
        users = self.roster.users
        changed = [users[user_id] for user_id in dict.fromkeys(user_id for _, user_id in entries) if user_id in users]
        if not changed and not clock_moved:
            return
        for klass in self.queue.classes.values():
            if not klass.blocked and not klass.set_aside:
                continue
            if clock_moved and klass.key[0] in self._reads_now:
                klass.unblock()
                continue
            takers = [user.id for user in self._takers(klass, changed, moment)]
            if not takers:
                continue
            klass.blocked = False
            # A contact set aside may take a new taker unless it was released from every one (SPEC 4.1).
            contacts = self.contacts
            for contact_id in [c for c in klass.set_aside if not contacts[c].contact.released.issuperset(takers)]:
                klass.put_back(contact_id)

    def _takers(self, klass, users: list[User], moment: dict) -> Iterator[User]:
        """The users among `users` the class's contacts could take, the users they were released from included."""
        route = self.policy.route_named(klass.key[0])
        if route is None:
            return
        team = route.team  # a team route's; None for the space
        members = self.roster.members.get(team, set()) if team is not None else None
        fields = None  # the class's contact fields, built only once a user in the pool is found
        for user in users:
            if user.deleted or (members is not None and user.id not in members):
                continue
            if fields is None:  # the same for all of them: the head's, or (all set aside) the first set aside's
                entry = klass.head or next(iter(klass.set_aside.values()))
                fields = self.contacts[entry.contact].contact.fields
            if route.eligible(user, fields, moment):
                yield user

    # ---------------------------------------------------------------- events

    def _apply(self, event: Event) -> list[Decision]:
        # An event carries the fields NEEDED_FIELDS names for its type (event_from_record and the service see to it).
        if event.type == ROUTE:
            assert event.contact is not None
            return self._route(event.contact, event.attrs, event.at)
        if event.type == CLOSE:
            assert event.contact is not None
            self._close(event.contact)
        elif event.type in PRESENCE_EVENTS:
            assert event.user is not None  # a `status`, `user` or `delete` event names its user
            self._change_user(event, event.user)
        elif event.type == REPLY:
            assert event.contact is not None and event.user is not None
            self.releases.replied(event.contact, event.user)  # only its assignee's reply counts
        elif event.type == JOIN:
            assert event.user is not None and event.team is not None
            self.roster.join(event.user, event.team)
        elif event.type == LEAVE:
            assert event.user is not None and event.team is not None
            self.roster.leave(event.user, event.team)
        return []

    def _route(self, contact_id: str, attrs: dict[str, Any], now: datetime) -> list[Decision]:
        attributes = {key: value for key, value in attrs.items() if key not in BUILT_IN_CONTACT_FIELDS}
        state = self.contacts.get(contact_id)
        if state is None:
            state = self.contacts[contact_id] = ContactState(
                Contact(contact_id, attrs.get(CONTACT_ASSIGNEE), attributes)
            )
        else:
            state.contact.attributes = attributes
            state.contact.released = NO_USERS  # SPEC 4.1: whether it is queued, held or neither
        if contact_id in self.queue:
            self._requeue_in_class(contact_id)
            return []
        state.closed = False
        decision = self.router.route(state.contact, now)
        route = self.policy.route_named(decision.route) if decision.route is not None else None
        if decision.outcome == d.QUEUED:
            assert route is not None and decision.deadline is not None  # queued on a route of the policy, until then
            self._enqueue(state.contact, route, now, decision.deadline)
        self._set_timers(decision, route)
        return [decision]

    def _close(self, contact_id: str) -> None:
        state = self.contacts.get(contact_id)
        if state is None or state.closed:
            return
        self.queue.remove(contact_id)
        if self.releases.timers:  # no timers (a policy without reassign options): none to clear
            self.releases.clear(contact_id)
        self.roster.take_away(state.contact.assignee)
        state.contact.assignee = None
        state.contact.released = NO_USERS
        state.closed = True

    def _change_user(self, event: Event, user_id: str) -> None:
        """A `status`, `user` or `delete` event; the `away` timers of the contacts the user holds
        are armed or cleared when it stops or starts being online (SPEC 4.1)."""
        watched = self.releases.watches(user_id)
        was_online = watched and self.is_online(user_id)
        if event.type == DELETE:
            if user_id in self.roster.users:
                self.roster.users[user_id].deleted = True
                self.roster.profile_changed(user_id)
        else:
            self._update_user(event)
        if watched and self.is_online(user_id) != was_online:
            self.releases.presence_changed(user_id, not was_online, event.at)

    def is_online(self, user_id: str | None) -> bool:
        """Online as `reassign when away` sees it: status `online`, and not deleted."""
        user = self.roster.users.get(user_id) if user_id is not None else None
        return user is not None and not user.deleted and user.status == ONLINE

    def _update_user(self, event: Event) -> None:
        user_id = event.user
        assert user_id is not None  # a `status` or `user` event names its user
        user = self.roster.users.get(user_id)
        if event.type == STATUS:
            if user is not None:
                user.status = event.status
                self.roster.profile_changed(user.id)
            return
        if user is None:
            user = self.roster.users[user_id] = User(id=user_id, status=NEW_USER_STATUS.value)
        self.roster.profile_changed(user.id)
        for key, value in event.attrs.items():
            if key in USER_TEXT_FIELDS:
                setattr(user, key, value)
            elif key == USER_DELETED_COLUMN:
                user.deleted = bool(value)
            elif key not in NOT_USER_ATTRIBUTES:
                user.attributes[key] = value

    # ----------------------------------------------------------------- queue

    def restore(self, contact: Contact, closed: bool, entry: QueueEntry | None) -> None:
        """Put back a contact (and its queue entry) read from disk."""
        self.contacts[contact.id] = ContactState(contact, closed)
        if entry is not None:
            self.queue.add(entry, self._class_key(contact, entry.route))

    def _class_key(self, contact: Contact, route_name: str) -> ClassKey:
        """Same route, same values of the fields its filters read: same candidates (but the users each
        contact was released from: see queue.py)."""
        fields = contact.fields
        return (route_name,) + tuple(_hashable(fields.get(name)) for name in self._class_fields.get(route_name, ()))

    def _enqueue(self, contact: Contact, route: CompiledRoute, now: datetime, deadline: datetime) -> None:
        entry = QueueEntry(contact.id, route.name, now, deadline, route.priority, self.queue.take_sequence())
        self.queue.add(entry, self._class_key(contact, route.name))

    def _requeue_in_class(self, contact_id: str) -> None:
        """New attributes may put a queued contact in another class; its place stays."""
        entry = self.queue.remove(contact_id)
        assert entry is not None  # asked only for a queued contact
        self.queue.add(entry, self._class_key(self.contacts[contact_id].contact, entry.route))

    def _place_first(self, now: datetime) -> Decision | None:
        while (klass := self.queue.first_unblocked_class()) is not None:
            entry = klass.head
            assert entry is not None  # the first unblocked class has a contact not set aside
            route = self.policy.route_named(entry.route)
            if route is None:  # its route left the policy: it waits for its timeout
                klass.blocked = True
                continue
            contact = self.contacts[entry.contact].contact
            decision = self.router.place(route, contact, now)
            if decision is not None:
                self.queue.remove(entry.contact)
                self._set_timers(decision, route)
                return decision
            if contact.released and self.router.has_candidates(route, contact, now):
                klass.set_head_aside()  # only users it was released from would take it
            else:
                klass.blocked = True
        return None

    def _time_out(self, entry: QueueEntry) -> list[Decision]:
        at = entry.deadline
        contact = self.contacts[entry.contact].contact
        route = self.policy.route_named(entry.route)
        decisions = [Decision(contact.id, entry.route, d.TIMED_OUT, at=at)]
        branch = route.route.branch if route is not None else None
        if branch is None:
            decisions.append(Decision(contact.id, entry.route, d.FAILED, reason=d.TIMEOUT, at=at))
        else:
            decisions.append(self._branch(entry.route, branch, contact, at))
        return decisions

    def _release(self, at: datetime, timer: ReleaseTimer) -> list[Decision]:
        """SPEC 4.1: `released`, the assignee loses the contact and joins its released users, then the branch."""
        contact = self.contacts[timer.contact].contact
        self.releases.clear(contact.id)
        route = self.policy.route_named(timer.route)
        option = route.reassign(timer.trigger) if route is not None else None
        if option is None:  # (choice) a new policy dropped the route or the option: so is its timer
            return []
        released = timer.assignee
        decisions = [Decision(contact.id, timer.route, d.RELEASED, user=released, reason=timer.trigger, at=at)]
        self.roster.take_away(released)
        contact.assignee = None
        contact.released = contact.released | {released}
        decisions.append(self._branch(timer.route, option.branch or timer.route, contact, at))
        return decisions

    def _branch(self, route_name: str, branch: str, contact: Contact, at: datetime) -> Decision:
        """A timeout's or a release's branch at `at`: `unassign` (the row carries `route_name`), or the
        named route's action and options, its `when` not checked, its failure checks run."""
        target = None
        if branch == UNASSIGN_BRANCH:
            decision = self.router.unassign(route_name, contact, at)
        else:
            target = self.policy.route_named(branch)
            assert target is not None  # the checker refuses a branch that names no route of the policy
            decision = self.router.apply(target, contact, at)
            if decision.outcome == d.QUEUED:
                self._enqueue(contact, target, at, deadline_after(at, target.timeout_seconds))
        self._set_timers(decision, target)
        return decision

    def _set_timers(self, decision: Decision, route: CompiledRoute | None) -> None:
        """SPEC 4.1: an assignment sets the timers of the route that made it, afresh; unassigning or
        queueing the contact clears them; a decision that changes nothing leaves them."""
        outcome = decision.outcome
        if outcome == d.ASSIGNED and route is not None and route.reassigns:
            assert decision.user is not None and decision.at is not None  # an assignment names its user and time
            self.releases.set(decision.contact, route, decision.user, self.is_online(decision.user), decision.at)
        elif outcome in TIMERS_CLEARED and self.releases.timers:  # no timers: none to clear
            self.releases.clear(decision.contact)


# The outcomes after which a contact has no release timer: a new assignee, none, or in the queue.
TIMERS_CLEARED = frozenset({d.ASSIGNED, d.UNASSIGNED, d.QUEUED})


def _hashable(value: Any) -> Hashable:
    """A contact value as part of a class key, with its kind: True and 1 must not share a class."""
    if isinstance(value, (list, tuple)):
        return (LIST_KIND, tuple(_hashable(item) for item in value))
    return (value_kind(value), value)


# The fields each event type must carry.
NEEDED_FIELDS = {
    ROUTE: ("contact",),
    CLOSE: ("contact",),
    STATUS: ("user", "status"),
    USER: ("user",),
    DELETE: ("user",),
    JOIN: ("user", "team"),
    LEAVE: ("user", "team"),
    REPLY: ("contact", "user"),
}


def event_from_record(record: dict[str, Any]) -> Event:
    """A replay log line (SPEC 5.1) as an Event; ValueError says what is wrong with it."""
    kind = record.get("type")
    if kind not in EVENT_TYPES:
        raise ValueError(f"unknown event type {kind!r}; use one of {', '.join(EVENT_TYPES)}")
    try:
        at = parse_instant(str(record["at"]))
    except (KeyError, ValueError):
        raise ValueError(f"`at` must be an ISO 8601 time, got {record.get('at')!r}") from None
    missing = [name for name in NEEDED_FIELDS[kind] if record.get(name) is None]
    if missing:
        raise ValueError(f"a `{kind}` event needs {', '.join(f'`{name}`' for name in missing)}")
    attrs = record.get("attrs") or {}
    if not isinstance(attrs, dict):
        raise ValueError("`attrs` must be an object")
    if kind == "route":  # the same value rules as a contacts file and a snapshot (rota.storage.kinds)
        attrs = contact_attributes(attrs)
    elif kind == "user":
        attrs = user_attributes(attrs)
    return Event(
        at=at,
        type=kind,
        contact=_text(record.get("contact")),
        user=_text(record.get("user")),
        team=_text(record.get("team")),
        status=None if record.get("status") is None else known_status(record["status"]),
        attrs=attrs,
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
