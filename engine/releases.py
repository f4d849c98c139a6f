"""The release timers of SPEC 4.1: `reassign when unanswered|away D` on the contacts a route assigns.

An assignment by a route with `reassign` options sets one timer per option:
`unanswered` runs at once (the assignment's instant + D) until the assignee
replies; `away` runs only while the assignee is not online, from the instant
it stopped being online (or the assignment's, when it was not online then).

Due timers come off a heap ordered by (due, order): `order` counts the
timers armed so far, so timers due at one instant fire in the order they
were set, and of one assignment's two `unanswered` first (it is armed
first). A timer cleared or re-armed leaves its old heap entry behind, which
is skipped when it reaches the top. `holding` indexes, per user, the
contacts it holds that have an `away` timer: a status change arms or clears
those k contacts' timers and nobody else's, O(k log n).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import datetime

from rota.vocabulary import ReassignTrigger

from .clock import deadline_after
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


@dataclass(eq=False)
class Releases:
    """Every contact's release timers, the heap of running ones, and who holds which."""

    timers: dict[str, dict[str, ReleaseTimer]] = field(default_factory=dict)  # contact -> trigger -> timer
    heap: list[tuple[datetime, int, ReleaseTimer]] = field(default_factory=list)
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
            trigger = option.trigger
            timer = timers[trigger] = ReleaseTimer(contact, trigger, route.name, option.seconds, assignee, assignment)
            if trigger == AWAY:
                held = self.holding.get(assignee)
                if held is None:
                    self.holding[assignee] = {contact}
                else:
                    held.add(contact)
                if online:
                    continue
            order += 1
            due = timer.due = deadline_after(now, option.seconds)
            timer.order = order
            heapq.heappush(self.heap, (due, order, timer))
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
        when inclusive)."""
        heap = self.heap
        while heap:
            due, order, timer = heap[0]
            if due > until or (due == until and not inclusive):
                return None  # every entry, current or left behind, is due later: most steps end here
            if self._runs(timer, due, order):
                return due, timer
            heapq.heappop(heap)
        return None

    def _runs(self, timer: ReleaseTimer, due: datetime, order: int) -> bool:
        """Whether a heap entry is the timer's current arming (not one cleared, re-armed or replaced since)."""
        timers = self.timers.get(timer.contact)
        return timer.due == due and timer.order == order and timers is not None and timers.get(timer.trigger) is timer

    def restore(self, timer: ReleaseTimer) -> None:
        """Put back a timer read from disk."""
        self.timers.setdefault(timer.contact, {})[timer.trigger] = timer
        if timer.trigger == AWAY:
            self.holding.setdefault(timer.assignee, set()).add(timer.contact)
        if timer.due is not None:
            heapq.heappush(self.heap, (timer.due, timer.order, timer))
        self.next_order = max(self.next_order, timer.order + 1, timer.assignment + 1)

    def _arm(self, timer: ReleaseTimer, since: datetime) -> None:
        timer.due, timer.order = deadline_after(since, timer.seconds), self._take_order()
        heapq.heappush(self.heap, (timer.due, timer.order, timer))

    def _take_order(self) -> int:
        """The next number of the one sequence that orders assignments and armings."""
        order = self.next_order
        self.next_order += 1
        return order

    def _touch(self, contact: str) -> None:
        if self.changed is not None:
            self.changed.add(contact)
