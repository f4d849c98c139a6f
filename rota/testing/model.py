"""An independent model of SPEC 3, 4 and 4.1 that walks a run and notes what breaks a property.

The model keeps its own state (statuses, teams, deletions, open counts, the
order of assignments, cursors, the queue with deadlines and priorities, each
contact's release timers and released users) and moves it with the run's
events and the run's own decisions. Before applying
each decision it works out, from the compiled routes' filters, who was
eligible at that moment, and notes a `Finding` wherever the decision
disagrees with the spec. It never looks inside the engine; at the very end it
compares its state with the engine's final state, when the run has one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rota.dsl.formatter import format_expression
from rota.engine import CompiledRoute, Decision, Event, User, format_instant
from rota.engine.clock import now_fields
from rota.vocabulary import (
    CONTACT_FIELDS,
    NEW_USER_STATUS,
    NOT_USER_ATTRIBUTES,
    UNASSIGN_BRANCH,
    USER_DELETED_COLUMN,
    ContactField,
    EventType,
    Logic,
    Outcome,
    Reason,
    ReassignTrigger,
    RouteKind,
    Scope,
    Status,
    UserField,
)

from .run import Run

ELIGIBILITY = "eligibility"
ROUND_ROBIN_TURNS = "round_robin_turns"
ROUND_ROBIN_BALANCE = "round_robin_balance"
LEAST_OPEN = "least_open"
CONSERVATION = "conservation"
DEADLINES = "deadlines"
QUEUE_ORDER = "queue_order"
RELEASES = "releases"  # SPEC 4.1: each release timer fires at its instant, in order, and only then

# A `user` event's attrs that set a User's own attribute, not one of its `attributes`.
USER_TEXT_FIELDS = (UserField.STATUS, UserField.NAME)
POOL_ROUTES = (RouteKind.TEAM, RouteKind.SPACE)
EMPTY_POOL_REASONS = (Reason.TEAM_EMPTY, Reason.SPACE_EMPTY)
TIMER_ROWS = (Outcome.TIMED_OUT, Outcome.RELEASED)  # rows a timer writes, not an event


@dataclass(frozen=True)
class Finding:
    property: str
    message: str
    index: int | None = None  # the decision it is about, when there is one


@dataclass(frozen=True)
class Candidate:
    id: str
    open: int
    order: int  # place in the total order of assignments; -1 = never assigned

    @property
    def least_open_key(self) -> tuple[int, int, str]:
        return (self.open, self.order, self.id)


@dataclass(frozen=True)
class RoundRobinPick:
    index: int
    pool: str
    chosen: str
    candidates: tuple[str, ...]


@dataclass(eq=False)
class ReleaseTimer:
    """One `reassign` option watching the contact's assignment (SPEC 4.1)."""

    trigger: str
    route: str  # the route that assigned the contact, whose option this is
    seconds: int
    due: datetime | None = None  # None: not running (an `away` timer while the assignee is online)
    order: int = 0  # when it was set: timers due at one instant fire in this order
    assignment: int = 0  # the assignment that set it: one status change arms its user's timers in this order

    def is_due(self, moment: datetime, inclusive: bool) -> bool:
        return self.due is not None and (self.due < moment or inclusive and self.due <= moment)


@dataclass(eq=False)
class ModelContact:
    attributes: dict[str, Any]
    assignee: str | None
    closed: bool = False
    timers: dict[str, ReleaseTimer] = field(default_factory=dict)  # by trigger
    released: set[str] = field(default_factory=set)  # never candidates until closed or routed again

    def fields(self, contact_id: str) -> dict[str, Any]:
        return {**self.attributes, ContactField.ID.value: contact_id, ContactField.ASSIGNEE.value: self.assignee}


@dataclass(frozen=True)
class Waiting:
    route: str | None  # None when the run queued a contact on no route (a finding)
    enqueued_at: datetime
    deadline: datetime
    priority: int
    sequence: int

    @property
    def order(self) -> tuple:
        return (-self.priority, self.enqueued_at, self.sequence)


class Walk:
    """The model's pass over one run; `findings` and `round_robin_picks` are its results."""

    def __init__(self, run: Run):
        self.run = run
        self.findings: list[Finding] = []
        self.round_robin_picks: list[RoundRobinPick] = []
        self.policy = self.run.policy
        self.rows = self.run.decisions
        self.position = 0
        self.users: dict[str, User] = {record.id: record.to_user() for record in self.run.snapshot.users}
        self.members: dict[str, set[str]] = {}
        for team, user_id in self.run.snapshot.memberships:
            self._join(user_id, team)
        moments = sorted({u.last_assigned_at for u in self.users.values() if u.last_assigned_at is not None})
        rank: dict[datetime | None, int] = {moment: index for index, moment in enumerate(moments)}  # None: never
        self.order = {u.id: rank.get(u.last_assigned_at, -1) for u in self.users.values()}
        self.next_order = len(moments)
        self.cursors = dict(self.run.snapshot.cursors)
        self.contacts: dict[str, ModelContact] = {}
        self.queue: dict[str, Waiting] = {}
        self.sequence = 0
        self.overdue_reported: set[str] = set()
        self.overdue_timers: set[tuple[str, str, datetime]] = set()
        self.timers_set = 0  # release timers set so far, for their order
        self.assignments = 0  # assignments so far that set release timers
        self.next_event_at: datetime | None = None

    # ------------------------------------------------------------------ walk

    def walk(self) -> Walk:
        events = self.run.ordered_events()
        for number, event in enumerate(events):
            self.next_event_at = event.at  # timeouts fire before it
            self._fire_timeouts(event.at, inclusive=False)
            self.next_event_at = events[number + 1].at if number + 1 < len(events) else None
            self._apply_event(event)
            self._drain(event.at, f"the `{event.type}` event at {format_instant(event.at)}")
        self.next_event_at = None
        if self.run.until is not None:
            self._fire_timeouts(self.run.until, inclusive=True)
        else:  # no end was given: the timeouts the engine fired after the last event are its own business
            self._fire_timeouts(datetime.max, inclusive=True, overdue_is_late=False)
        for index in range(self.position, len(self.rows)):
            self._note(CONSERVATION, index, "no event or timeout of the run caused this decision")
        self._compare_with_engine()
        return self

    def _note(self, prop: str, index: int | None, message: str) -> None:
        where = "" if index is None else f"decision #{index} {describe(self.rows[index])}: "
        self.findings.append(Finding(prop, where + message, index))

    def _route_named(self, name: str | None) -> CompiledRoute | None:
        return self.policy.route_named(name) if name else None

    def _peek(self) -> Decision | None:
        return self.rows[self.position] if self.position < len(self.rows) else None

    def _take(self) -> tuple[int, Decision]:
        self.position += 1
        return self.position - 1, self.rows[self.position - 1]

    # -------------------------------------------------------------- timeouts

    def _fire_timeouts(self, moment: datetime, inclusive: bool, overdue_is_late: bool = True) -> None:
        """Deadlines and release timers due by `moment` (SPEC 4, 4.1), as the run's rows fire them."""
        while (
            (row := self._peek()) is not None
            and row.outcome in TIMER_ROWS
            and row.at is not None
            and (row.at < moment or inclusive and row.at <= moment)
        ):
            if row.outcome == Outcome.TIMED_OUT:
                self._time_out(*self._take())
            else:
                self._release(*self._take())
        if overdue_is_late:
            self._note_overdue_timers(moment, inclusive)
        for contact_id, waiting in self._in_queue_order() if overdue_is_late else ():
            due = waiting.deadline < moment or inclusive and waiting.deadline <= moment
            if due and contact_id not in self.overdue_reported:
                self.overdue_reported.add(contact_id)
                self._note(
                    DEADLINES,
                    None,
                    f"contact {contact_id} (queued under `{waiting.route}` at "
                    f"{format_instant(waiting.enqueued_at)}) was still queued at {format_instant(moment)}, "
                    f"past its deadline {format_instant(waiting.deadline)}",
                )

    def _time_out(self, index: int, row: Decision) -> None:
        at = row.at
        assert at is not None  # _fire_timeouts takes only rows with a time
        waiting = self.queue.pop(row.contact, None)
        if waiting is None:
            self._note(CONSERVATION, index, f"contact {row.contact} timed out but was not queued")
            return
        if row.at != waiting.deadline:
            self.overdue_reported.add(row.contact)
            self._note(
                DEADLINES,
                index,
                f"timed out at {format_instant(row.at)}; its deadline was {format_instant(waiting.deadline)}",
            )
        first_due = next(
            (
                other
                for other, entry in self._in_queue_order()
                if entry.deadline == waiting.deadline and entry.order < waiting.order
            ),
            None,
        )
        if first_due is not None:
            self._note(
                DEADLINES,
                index,
                f"contact {first_due}, due at the same instant, is ahead in queue order and should time out first",
            )
        earlier = self._first_running_timer(lambda timer: timer.due is not None and timer.due < at)
        if earlier is not None:
            self._note(RELEASES, index, f"{describe_timer(*earlier)} was due earlier and should fire first")
        branch_row = self._peek()
        if branch_row is None or branch_row.contact != row.contact or branch_row.outcome in TIMER_ROWS:
            self._note(CONSERVATION, index, f"no decision followed the timeout of {row.contact}: the contact was lost")
            return
        branch_index, branch_row = self._take()
        route = self._route_named(waiting.route)
        branch = route.route.branch if route is not None else None
        target = self.policy.route_named(branch) if branch not in (None, UNASSIGN_BRANCH) else None
        expected = target.name if target is not None else waiting.route
        if branch_row.route != expected:
            self._note(ELIGIBILITY, branch_index, f"the timeout of `{waiting.route}` branches to `{expected}`")
        self._apply_decision(branch_index, branch_row, target, at)
        self._drain(at, f"the timeout of {row.contact}")

    # -------------------------------------------------------------- releases

    def _release(self, index: int, row: Decision) -> None:
        """SPEC 4.1: `released` (the route whose option fired, the assignee, the trigger), the branch, the drain."""
        at = row.at
        assert at is not None  # _fire_timeouts takes only rows with a time
        contact = self.contacts.get(row.contact)
        timer = contact.timers.get(row.reason or "") if contact is not None else None
        if contact is None or timer is None or timer.due is None:
            self._note(RELEASES, index, f"contact {row.contact} had no `reassign when {row.reason}` timer running")
            return
        self._check_release(index, row, contact, timer)
        released = contact.assignee
        self._take_away(released)
        if released is not None:
            contact.released.add(released)
        contact.assignee = None
        contact.timers = {}
        branch_row = self._peek()
        if branch_row is None or branch_row.contact != row.contact or branch_row.outcome in TIMER_ROWS:
            self._note(CONSERVATION, index, f"no decision followed the release of {row.contact}: the contact was lost")
            return
        branch_index, branch_row = self._take()
        route = self._route_named(timer.route)
        option = next((o for o in route.route.reassigns if o.trigger == timer.trigger), None) if route else None
        branch = option.branch if option is not None else None
        if branch == UNASSIGN_BRANCH:
            target = None
            if branch_row.outcome != Outcome.UNASSIGNED:
                self._note(RELEASES, branch_index, f"the release by `{timer.route}` branches to `unassign`")
        else:  # no branch: the route that assigned the contact routes it again
            target = route if branch is None else self.policy.route_named(branch)
        expected = target.name if target is not None else timer.route
        if branch_row.route != expected:
            self._note(ELIGIBILITY, branch_index, f"the release by `{timer.route}` branches to `{expected}`")
        self._apply_decision(branch_index, branch_row, target, at)
        self._drain(at, f"the release of {row.contact}")

    def _check_release(self, index: int, row: Decision, contact: ModelContact, timer: ReleaseTimer) -> None:
        assert row.at is not None and timer.due is not None  # a timer row, a running timer
        if row.at != timer.due:
            self._note(
                RELEASES,
                index,
                f"released at {format_instant(row.at)}; its timer was due at {format_instant(timer.due)}",
            )
        if row.route != timer.route:
            self._note(RELEASES, index, f"the timer is the `reassign when {timer.trigger}` of route `{timer.route}`")
        if row.user != contact.assignee:
            self._note(RELEASES, index, f"the released user is the assignee, {contact.assignee}")
        self.overdue_timers.add((row.contact, timer.trigger, timer.due))
        deadline = next(
            ((other, w) for other, w in self._in_queue_order() if w.deadline <= timer.due), None
        )  # at one instant, deadlines fire first
        if deadline is not None:
            self._note(
                RELEASES, index, f"contact {deadline[0]}'s deadline {format_instant(deadline[1].deadline)} comes first"
            )
        due = timer.due
        earlier = self._first_running_timer(
            lambda other: other is not timer and other.due is not None and (other.due, other.order) < (due, timer.order)
        )
        if earlier is not None:
            self._note(RELEASES, index, f"{describe_timer(*earlier)} fires first: timers fire in the order set")

    def _first_running_timer(self, holds) -> tuple[str, ReleaseTimer] | None:
        running = [
            (timer.due, timer.order, contact_id, timer)
            for contact_id, contact in self.contacts.items()
            for timer in contact.timers.values()
            if holds(timer)
        ]
        if not running:
            return None
        first = min(running, key=lambda item: (item[0], item[1]))
        return first[2], first[3]

    def _note_overdue_timers(self, moment: datetime, inclusive: bool) -> None:
        for contact_id, contact in sorted(self.contacts.items()):
            for timer in contact.timers.values():
                assert_due = timer.due
                if timer.is_due(moment, inclusive) and assert_due is not None:
                    key = (contact_id, timer.trigger, assert_due)
                    if key not in self.overdue_timers:
                        self.overdue_timers.add(key)
                        self._note(
                            RELEASES,
                            None,
                            f"contact {contact_id} was still with {contact.assignee} at {format_instant(moment)}, "
                            f"past {describe_timer(contact_id, timer)}",
                        )

    def _set_timers(self, contact: ModelContact, route: CompiledRoute | None, now: datetime) -> None:
        """Every new assignment sets the timers of the route that assigned it afresh, `unanswered` first."""
        contact.timers = {}
        if route is None:
            return
        self.assignments += 1
        for option in route.route.reassigns:
            timer = ReleaseTimer(option.trigger, route.name, option.seconds, assignment=self.assignments)
            if option.trigger == ReassignTrigger.UNANSWERED or not self._online(contact.assignee):
                self._arm(timer, now)
            contact.timers[option.trigger] = timer

    def _arm(self, timer: ReleaseTimer, since: datetime) -> None:
        self.timers_set += 1
        timer.due, timer.order = since + timedelta(seconds=timer.seconds), self.timers_set

    def _online(self, user_id: str | None) -> bool:
        """Online for `reassign when away`: status `online` and not deleted."""
        user = self.users.get(user_id) if user_id is not None else None
        return user is not None and not user.deleted and user.status == Status.ONLINE

    def _presence_changed(self, user_id: str, was_online: bool, now: datetime) -> None:
        """A user stopped or started being online: arm or clear the `away` timers of the contacts it holds,
        in the order of the assignments that set them."""
        if self._online(user_id) == was_online:
            return
        held = [
            away
            for contact in self.contacts.values()
            if contact.assignee == user_id and (away := contact.timers.get(ReassignTrigger.AWAY.value)) is not None
        ]
        for away in sorted(held, key=lambda timer: timer.assignment):
            if was_online:
                self._arm(away, now)
            else:
                away.due = None

    def _reply(self, event: Event) -> None:
        contact = self.contacts.get(event.contact or "")
        if contact is not None and contact.assignee is not None and contact.assignee == event.user:
            contact.timers.pop(ReassignTrigger.UNANSWERED.value, None)  # for good, for this assignment

    # ---------------------------------------------------------------- events

    def _apply_event(self, event: Event) -> None:
        # An event carries the fields its type needs, as the engine's events do.
        was_online = self._online(event.user)
        self._apply_event_to_state(event)
        if event.user is not None:
            self._presence_changed(event.user, was_online, event.at)

    def _apply_event_to_state(self, event: Event) -> None:
        if event.type == EventType.REPLY:
            self._reply(event)
        elif event.type == EventType.ROUTE:
            self._route(event)
        elif event.type == EventType.CLOSE:
            assert event.contact is not None
            self._close(event.contact)
        elif event.type == EventType.STATUS and event.user in self.users:
            self.users[event.user].status = event.status
        elif event.type == EventType.USER:
            self._update_user(event)
        elif event.type == EventType.DELETE and event.user in self.users:
            self.users[event.user].deleted = True
        elif event.type == EventType.JOIN:
            assert event.user is not None and event.team is not None
            self._join(event.user, event.team)
        elif event.type == EventType.LEAVE:
            assert event.user is not None and event.team is not None
            self._leave(event.user, event.team)

    def _route(self, event: Event) -> None:
        assert event.contact is not None  # a route event names its contact
        attributes = {key: value for key, value in event.attrs.items() if key not in CONTACT_FIELDS}
        contact = self.contacts.get(event.contact)
        if contact is None:
            contact = self.contacts[event.contact] = ModelContact(attributes, event.attrs.get(ContactField.ASSIGNEE))
        contact.attributes = attributes
        contact.released = set()  # SPEC 4.1: a `route` event empties them, queued, held or neither
        if event.contact in self.queue:
            return  # SPEC 4: stays where it is, no row
        contact.closed = False
        row = self._peek()
        if row is None or row.contact != event.contact or row.outcome in TIMER_ROWS:
            self.findings.append(
                Finding(
                    CONSERVATION,
                    f"the route event for {event.contact} at "
                    f"{format_instant(event.at)} got no decision: the contact was lost",
                )
            )
            return
        index, row = self._take()
        selected = self.policy.select(contact.fields(event.contact), now_fields(event.at, self.policy.zone))
        expected = selected.name if selected is not None else None
        if row.route != expected:
            self._note(ELIGIBILITY, index, f"the first route whose `when` holds is `{expected}`, not `{row.route}`")
        self._apply_decision(index, row, self._route_named(row.route), event.at)

    def _close(self, contact_id: str) -> None:
        contact = self.contacts.get(contact_id)
        if contact is None or contact.closed:
            return
        self.queue.pop(contact_id, None)
        self._take_away(contact.assignee)
        contact.assignee = None
        contact.closed = True
        contact.timers, contact.released = {}, set()

    def _update_user(self, event: Event) -> None:
        user_id = event.user
        assert user_id is not None  # a user event names its user
        user = self.users.get(user_id)
        if user is None:
            user = self.users[user_id] = User(id=user_id, status=NEW_USER_STATUS.value)
            self.order[user.id] = -1
        for key, value in event.attrs.items():
            if key in USER_TEXT_FIELDS:
                setattr(user, key, value)
            elif key == USER_DELETED_COLUMN:
                user.deleted = bool(value)
            elif key not in NOT_USER_ATTRIBUTES:
                user.attributes[key] = value

    def _join(self, user_id: str, team: str) -> None:
        if user_id in self.users and user_id not in self.members.setdefault(team, set()):
            self.members[team].add(user_id)
            self.users[user_id].teams = sorted(self.users[user_id].teams + [team])

    def _leave(self, user_id: str, team: str) -> None:
        if user_id in self.members.get(team, set()):
            self.members[team].discard(user_id)
            self.users[user_id].teams = [name for name in self.users[user_id].teams if name != team]

    # ------------------------------------------------------------- decisions

    def _apply_decision(self, index: int, row: Decision, route: CompiledRoute | None, now: datetime) -> None:
        contact = self.contacts.get(row.contact)
        if contact is None:
            self._note(CONSERVATION, index, f"contact {row.contact} never entered routing")
            return
        if row.outcome == Outcome.ASSIGNED:
            self._check_assignment(index, row, route, contact, now)
            self._give(row.user, contact, now)
            contact.assignee = row.user
            self._set_timers(contact, route, now)
        elif row.outcome == Outcome.QUEUED:
            contact.timers = {}
            self._check_queueing(index, row, route, contact, now)
            self.sequence += 1
            deadline = row.deadline or now
            self.queue[row.contact] = Waiting(
                row.route, now, deadline, route.route.priority if route else 0, self.sequence
            )
        elif row.outcome == Outcome.UNASSIGNED:
            self._take_away(contact.assignee)
            contact.assignee = None
            contact.timers = {}
        elif row.outcome == Outcome.FAILED and row.reason in EMPTY_POOL_REASONS and route is not None:
            members = [user.id for user in self._pool(route)]
            if members:
                self._note(ELIGIBILITY, index, f"the pool was not empty: {', '.join(sorted(members))}")
        elif row.outcome == Outcome.FAILED and row.reason == Reason.USER_RELEASED:
            target = self._target_user(route, contact, row.contact, now)
            if target not in contact.released:
                self._note(ELIGIBILITY, index, f"the contact was never released from {target}")
        elif row.outcome == Outcome.TIMED_OUT:
            self._note(CONSERVATION, index, f"contact {row.contact} timed out but was not queued")
        elif row.outcome == Outcome.RELEASED:
            self._note(RELEASES, index, f"contact {row.contact} was released where a decision was due")

    def _check_assignment(
        self, index: int, row: Decision, route: CompiledRoute | None, contact: ModelContact, now: datetime
    ) -> None:
        if row.reason == Reason.USER:
            user = self.users.get(row.user) if row.user is not None else None
            if user is None or user.deleted:
                self._note(ELIGIBILITY, index, f"user {row.user} is {'deleted' if user else 'unknown'}")
            elif user.id in contact.released:
                self._note(ELIGIBILITY, index, f"the contact was released from {user.id}: it fails with user_released")
            return
        if route is None or route.kind not in POOL_ROUTES:
            self._note(ELIGIBILITY, index, f"route `{row.route}` cannot assign by {row.reason}")
            return
        candidates = self.candidates(route, contact, row.contact, now)
        ids = [candidate.id for candidate in candidates]
        if row.user not in ids:
            self._note(
                ELIGIBILITY,
                index,
                f"{row.user} was not eligible ({self.why_not(route, row.user, contact, row.contact, now)}); "
                f"candidates: {format_candidates(candidates)}",
            )
            return
        if route.route.logic == Logic.LEAST_OPEN:
            best = min(candidates, key=lambda candidate: candidate.least_open_key)
            if best.id != row.user:
                self._note(
                    LEAST_OPEN,
                    index,
                    f"expected {best.id}, the candidate with the fewest open contacts "
                    f"(ties: least recently assigned, then smallest id); candidates: {format_candidates(candidates)}",
                )
        else:
            pool = route.pool_key
            assert pool is not None  # a team or space route, checked above
            cursor = self.cursors.get(pool)
            expected = next((user_id for user_id in ids if cursor is None or user_id > cursor), ids[0])
            if expected != row.user:
                self._note(
                    ROUND_ROBIN_TURNS,
                    index,
                    f"it was {expected}'s turn (first candidate after the cursor "
                    f"{cursor!r} of pool {pool!r}); candidates: {format_candidates(candidates)}",
                )
            self.round_robin_picks.append(RoundRobinPick(index, pool, row.user, tuple(ids)))
            self.cursors[pool] = row.user

    def _check_queueing(
        self, index: int, row: Decision, route: CompiledRoute | None, contact: ModelContact, now: datetime
    ) -> None:
        if route is None or route.kind not in POOL_ROUTES:
            self._note(ELIGIBILITY, index, f"route `{row.route}` never queues")
            return
        candidates = self.candidates(route, contact, row.contact, now)
        if candidates:
            self._note(ELIGIBILITY, index, f"queued although {format_candidates(candidates)} were eligible")
        expected = now + timedelta(seconds=route.route.timeout_seconds)
        if row.deadline != expected:
            self._note(
                DEADLINES,
                index,
                f"deadline should be {format_instant(expected)} "
                f"(now + the route's timeout), not {format_instant(row.deadline)}",
            )

    def _give(self, user_id: str | None, contact: ModelContact, now: datetime) -> None:
        if user_id is None or (user := self.users.get(user_id)) is None:
            return
        if contact.assignee != user_id:
            user.open += 1
            self._take_away(contact.assignee)
        user.last_assigned_at = now
        self.order[user_id] = self.next_order
        self.next_order += 1

    def _take_away(self, user_id: str | None) -> None:
        user = self.users.get(user_id) if user_id is not None else None
        if user is not None and user.open > 0:
            user.open -= 1

    # ----------------------------------------------------------------- drain

    def _drain(self, now: datetime, cause: str) -> None:
        while (row := self._peek()) is not None and row.outcome == Outcome.ASSIGNED and row.contact in self.queue:
            waiting = self.queue[row.contact]
            if self._belongs_to_a_later_step(row, waiting, now):
                break
            index, row = self._take()
            self._check_nobody_ahead_could_go(index, row.contact, waiting, now)
            del self.queue[row.contact]
            route = self._route_named(waiting.route)
            if row.route != waiting.route:
                self._note(CONSERVATION, index, f"the contact was queued under `{waiting.route}`")
            self._apply_decision(index, row, route, now)
        for contact_id, waiting in self._in_queue_order():
            route = self._route_named(waiting.route)
            candidates = self.candidates(route, self.contacts[contact_id], contact_id, now) if route else []
            if candidates:
                self.findings.append(
                    Finding(
                        QUEUE_ORDER,
                        f"after {cause}, contact {contact_id} stayed queued under "
                        f"`{waiting.route}` although {format_candidates(candidates)} could take it",
                    )
                )
                return

    def _belongs_to_a_later_step(self, row: Decision, waiting: Waiting, now: datetime) -> bool:
        """Rows carry no step: a drain row nobody could take yet belongs to a later event of the same instant."""
        route = self._route_named(waiting.route)
        placeable = route is not None and self.candidates(route, self.contacts[row.contact], row.contact, now)
        return not placeable and self.next_event_at is not None and self.next_event_at <= (row.at or now)

    def _check_nobody_ahead_could_go(self, index: int, contact_id: str, placed: Waiting, now: datetime) -> None:
        for other_id, waiting in self._in_queue_order():
            if waiting.order >= placed.order:
                return
            route = self._route_named(waiting.route)
            candidates = self.candidates(route, self.contacts[other_id], other_id, now) if route else []
            if candidates:
                self._note(
                    QUEUE_ORDER,
                    index,
                    f"contact {other_id} (priority {waiting.priority}, queued "
                    f"{format_instant(waiting.enqueued_at)}) was ahead in the queue and could go to "
                    f"{format_candidates(candidates)}",
                )
                return

    def _in_queue_order(self) -> list[tuple[str, Waiting]]:
        return sorted(self.queue.items(), key=lambda item: item[1].order)

    # ----------------------------------------------------------- eligibility

    def candidates(
        self, route: CompiledRoute, contact: ModelContact, contact_id: str, now: datetime
    ) -> list[Candidate]:
        """SPEC 3.2-3.3 on the model's state: the pool's users for whom every `only` holds, by id."""
        fields, moment = contact.fields(contact_id), now_fields(now, self.policy.zone)
        return [
            Candidate(user.id, user.open, self.order[user.id])
            for user in sorted(self._pool(route), key=lambda u: u.id)
            if route.eligible(user, fields, moment) and user.id not in contact.released
        ]

    def _target_user(
        self, route: CompiledRoute | None, contact: ModelContact, contact_id: str, now: datetime
    ) -> str | None:
        """The user id `assign to user E` gives: a string, or a whole number written as one."""
        if route is None or route.target_user is None:
            return None
        value = route.target_user(None, contact.fields(contact_id), now_fields(now, self.policy.zone))
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            return None
        return str(value)

    def _pool(self, route: CompiledRoute) -> list[User]:
        if route.kind == RouteKind.SPACE:
            return [user for user in self.users.values() if not user.deleted]
        if route.team is not None:  # a team route
            return [
                self.users[user_id] for user_id in self.members.get(route.team, ()) if not self.users[user_id].deleted
            ]
        return []

    def why_not(
        self, route: CompiledRoute, user_id: str | None, contact: ModelContact, contact_id: str, now: datetime
    ) -> str:
        user = self.users.get(user_id) if user_id is not None else None
        if user is None:
            return "no such user"
        if user.deleted:
            return "deleted"
        if route.team is not None and user_id not in self.members.get(route.team, ()):  # a team route
            return f"not in team {route.team!r}"
        if user.id in contact.released:
            return "released from this contact"
        fields, moment = contact.fields(contact_id), now_fields(now, self.policy.zone)
        failing = [
            format_expression(conjunct, Scope.USER.value)
            for conjunct, condition in zip(route.conjuncts, route.filters)
            if not condition(user, fields, moment)
        ]
        return f"status {user.status}, open {user.open}; fails `only {' and '.join(failing)}`"

    # ------------------------------------------------------------ final state

    def _compare_with_engine(self) -> None:
        final = self.run.final
        if final is None:
            return
        for contact_id, contact in sorted(self.contacts.items()):
            states = [
                name
                for name, holds in (("closed", contact_id in final.closed), ("queued", contact_id in final.queued))
                if holds
            ]
            if len(states) > 1:
                self.findings.append(Finding(CONSERVATION, f"contact {contact_id} is both {' and '.join(states)}"))
            if (contact_id in final.queued) != (contact_id in self.queue):
                where = "is" if contact_id in final.queued else "is not"
                self.findings.append(
                    Finding(
                        CONSERVATION,
                        f"contact {contact_id} {where} in the engine's queue, but the decisions say otherwise",
                    )
                )
            if final.assignees.get(contact_id) != contact.assignee:
                self.findings.append(
                    Finding(
                        CONSERVATION,
                        f"contact {contact_id} is held by "
                        f"{final.assignees.get(contact_id)} in the engine; the decisions give it "
                        f"to {contact.assignee}",
                    )
                )
        for contact_id in sorted(set(final.assignees) - set(self.contacts)):
            self.findings.append(Finding(CONSERVATION, f"the engine holds contact {contact_id}, never routed"))
        for user_id, user in sorted(self.users.items()):
            if final.open_counts.get(user_id, 0) != user.open:
                self.findings.append(
                    Finding(
                        CONSERVATION,
                        f"user {user_id} has {final.open_counts.get(user_id, 0)} "
                        f"open contacts in the engine; the decisions give {user.open}",
                    )
                )


def describe(row: Decision) -> str:
    parts = [format_instant(row.at) or "?", row.contact, row.outcome]
    if row.route:
        parts.append(f"route={row.route}")
    if row.user:
        parts.append(f"user={row.user}")
    if row.reason:
        parts.append(f"reason={row.reason}")
    return "(" + " ".join(parts) + ")"


def describe_timer(contact_id: str, timer: ReleaseTimer) -> str:
    return (
        f"the `reassign when {timer.trigger}` timer of contact {contact_id} (route `{timer.route}`), "
        f"due at {format_instant(timer.due)}"
    )


def format_candidates(candidates: list[Candidate]) -> str:
    if not candidates:
        return "nobody"
    return ", ".join(
        f"{c.id} (open {c.open}, {'never assigned' if c.order < 0 else f'assigned #{c.order}'})" for c in candidates
    )


def walk(run: Run) -> Walk:
    return Walk(run).walk()
