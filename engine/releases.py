"""The release timers of SPEC 4.1: `reassign when unanswered|away D` on the contacts a route assigns.

An assignment by a route with `reassign` options sets one timer per option:
`unanswered` runs at once (the assignment's instant + D) until the assignee
replies; `away` runs only while the assignee is not online, from the instant
it stopped being online (or the assignment's, when it was not online then).

Timers fire by (due, order): `order` counts the timers armed so far, so
timers due at one instant fire in the order they were set, and of one
assignment's two `unanswered` first (it is armed first). Running timers
wait in one *lane* per duration D: a timer is armed at the engine's
current instant + D, and that instant only moves forward, so a lane is
already in firing order and a timer joins it at its end, leaves it from its
front (a deque, not a heap: no sift per timer). The next timer to fire is
the first of a lane's fronts. An instant earlier than the lane's last
(a caller's clock that went back, timers read from disk) is put in its place
by bisection. A timer cleared or re-armed leaves its old entry behind, which
is skipped when it reaches the front. `holding` indexes, per user, the
contacts it holds that have an `away` timer: a status change arms or clears
those k contacts' timers and nobody else's, O(k log n).
"""

from __future__ import annotations

from bisect import insort
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from rota.vocabulary import ReassignTrigger

from .clock import span_of
from .compiler import CompiledRoute

UNANSWERED, AWAY = ReassignTrigger.UNANSWERED.value, ReassignTrigger.AWAY.value


@dataclass(eq=False, slots=True)
class ReleaseTimer:
    contact: str
    trigger: str  # a ReassignTrigger's text
    route: str  # the route that assigned the contact, whose option this is
    seconds: int
    assignee: str  # the user it watches
    assignment: int  # the assignment that set it: one status change arms its user's timers in this order
    due: datetime | None = None  # None: not running (an `away` timer while its assignee is online)
    order: int = 0  # when it was last armed: timers due at one instant fire in this order


# A trigger without a timer, in a contact's row.
NO_TIMER = (None, None, None)
NO_TIMERS = (None, None) + NO_TIMER + NO_TIMER


def timer_columns(timers: dict[str, ReleaseTimer] | None) -> tuple:
    """A contact's timers as its row keeps them (storage/engine_store.py, TIMER_COLUMNS): the route and the
    assignment that set them (the same for both), then `unanswered`'s and `away`'s seconds, due and order."""
    if not timers:
        return NO_TIMERS
    unanswered, away = timers.get(UNANSWERED), timers.get(AWAY)
    first = unanswered or away
    assert first is not None  # a contact's timers are kept only while it has one
    return (first.route, first.assignment) + _columns_of(unanswered) + _columns_of(away)


def _columns_of(timer: ReleaseTimer | None) -> tuple:
    return NO_TIMER if timer is None else (timer.seconds, timer.due, timer.order)


def timers_of_row(contact: str, assignee: str | None, columns: tuple) -> list[ReleaseTimer]:
    """The timers `timer_columns` wrote in the row of `contact`, held by `assignee`, `unanswered` first."""
    route, assignment = columns[0], columns[1]
    if route is None:
        return []
    assert assignee is not None  # timers watch a contact while its assignee holds it
    found = []
    for trigger, (seconds, due, order) in ((UNANSWERED, columns[2:5]), (AWAY, columns[5:8])):
        if seconds is not None:
            found.append(ReleaseTimer(contact, trigger, route, seconds, assignee, assignment, due, order))
    return found


# A running timer in its lane: when it fires, then when it was armed (timers due at one instant fire in that order).
LaneEntry = tuple[datetime, int, ReleaseTimer]


class Lane:
    """The running timers of one duration, in firing order (and entries left behind by timers cleared since)."""

    __slots__ = ("span", "entries")

    def __init__(self, seconds: int):
        self.span = span_of(seconds)
        self.entries: deque[LaneEntry] = deque()

    def add(self, entry: LaneEntry) -> None:
        """At the end when it fires last, as it does when armed at the engine's instant; else in its place."""
        entries = self.entries
        if entries and entry < entries[-1]:  # orders are unique: two entries never compare their timers
            insort(entries, entry)
        else:
            entries.append(entry)


@dataclass(eq=False)
class Releases:
    """Every contact's release timers, the lanes of running ones, and who holds which."""

    timers: dict[str, dict[str, ReleaseTimer]] = field(default_factory=dict)  # contact -> trigger -> timer
    lanes: dict[int, Lane] = field(default_factory=dict)  # by duration, in seconds
    holding: dict[str, set[str]] = field(default_factory=dict)  # user -> its contacts with an `away` timer
    next_order: int = 0
    # The contacts whose timers changed since the durable engine last wrote them (None: nobody asks).
    changed: set[str] | None = None

    def set(self, contact: str, route: CompiledRoute, assignee: str, online: bool, now: datetime) -> None:
        """A new assignment by `route`: its options' timers, afresh."""
        if contact in self.timers:
            self.clear(contact)
        options = route.reassigns
        if not options:
            return
        timers = self.timers[contact] = {}
        # One sequence numbers the assignment, then each timer it arms (`_arm` inlined: every assignment is here).
        assignment = order = self.next_order
        for option in options:  # `unanswered` before `away`
            trigger, seconds = option.trigger, option.seconds
            timer = timers[trigger] = ReleaseTimer(contact, trigger, route.name, seconds, assignee, assignment)
            if trigger == AWAY:
                held = self.holding.get(assignee)
                if held is None:
                    self.holding[assignee] = {contact}
                else:
                    held.add(contact)
                if online:
                    continue
            order += 1
            lane = self._lane(seconds)
            due = timer.due = now + lane.span
            timer.order = order
            lane.add((due, order, timer))
        self.next_order = order + 1
        self._touch(contact)

    def clear(self, contact: str) -> None:
        """The contact was closed, unassigned, queued, released or assigned afresh."""
        timers = self.timers.pop(contact, None)
        if timers is None:
            return
        away = timers.get(AWAY)
        if away is not None:
            held = self.holding[away.assignee]
            held.discard(contact)
            if not held:
                del self.holding[away.assignee]
        self._touch(contact)

    def replied(self, contact: str, user: str) -> None:
        """A reply by the assignee clears `unanswered` for good, for this assignment."""
        timers = self.timers.get(contact)
        unanswered = timers.get(UNANSWERED) if timers is not None else None
        if unanswered is not None and unanswered.assignee == user:
            del timers[UNANSWERED]  # type: ignore[union-attr]  # found in it just above
            if not timers:
                del self.timers[contact]
            self._touch(contact)

    def presence_changed(self, user: str, online: bool, now: datetime) -> None:
        """`user` came online (clears its contacts' `away` timers) or stopped being online (arms them,
        in the order of the assignments that set them)."""
        held = [self.timers[contact][AWAY] for contact in self.holding.get(user, ())]
        for away in sorted(held, key=lambda timer: timer.assignment):
            contact = away.contact
            if online and away.due is not None:
                away.due = None
            elif not online and away.due is None:
                self._arm(away, now)
            else:
                continue
            self._touch(contact)

    def watches(self, user: str) -> bool:
        """Whether `user` holds a contact with an `away` timer."""
        return user in self.holding

    def first_due(self, until: datetime, inclusive: bool) -> tuple[datetime, ReleaseTimer] | None:
        """The running timer that fires next, with its instant, if it is due before `until` (or at it,
        when inclusive): the first of the lanes' first running timers."""
        first = None
        for lane in self.lanes.values():
            entries = lane.entries
            while entries:
                entry = entries[0]
                due = entry[0]
                if due > until or (due == until and not inclusive):
                    break  # every entry of the lane, current or left behind, is due later: most steps end here
                if self._runs(*entry):
                    if first is None or entry < first:
                        first = entry
                    break
                entries.popleft()
        return None if first is None else (first[0], first[2])

    def _runs(self, due: datetime, order: int, timer: ReleaseTimer) -> bool:
        """Whether a lane's entry is the timer's current arming (not one cleared, re-armed or replaced since)."""
        timers = self.timers.get(timer.contact)
        return timer.due == due and timer.order == order and timers is not None and timers.get(timer.trigger) is timer

    def restore(self, timer: ReleaseTimer) -> None:
        """Put back a timer read from disk."""
        self.timers.setdefault(timer.contact, {})[timer.trigger] = timer
        if timer.trigger == AWAY:
            self.holding.setdefault(timer.assignee, set()).add(timer.contact)
        if timer.due is not None:
            self._lane(timer.seconds).add((timer.due, timer.order, timer))
        self.next_order = max(self.next_order, timer.order + 1, timer.assignment + 1)

    def _lane(self, seconds: int) -> Lane:
        lane = self.lanes.get(seconds)
        if lane is None:
            lane = self.lanes[seconds] = Lane(seconds)
        return lane

    def _arm(self, timer: ReleaseTimer, since: datetime) -> None:
        lane = self._lane(timer.seconds)
        timer.due, timer.order = since + lane.span, self._take_order()
        lane.add((timer.due, timer.order, timer))

    def _take_order(self) -> int:
        """The next number of the one sequence that orders assignments and armings."""
        order = self.next_order
        self.next_order += 1
        return order

    def _touch(self, contact: str) -> None:
        if self.changed is not None:
            self.changed.add(contact)
