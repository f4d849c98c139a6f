"""A route's candidates kept up to date as users change (the live engine's fast path).

For a team or space route whose per-pick filters are all caps on `open`
(`only open < 5`), the candidates are the *members* (the pool narrowed by
the filters on unchanging user fields) that the caps let through. The set
catches up with the roster's change logs when it is asked, so a decision
costs O(log n) plus the users changed since the route's last decision,
never a pass over the pool:

- `passing`: the ids of the members the caps let through, sorted, so
  round-robin bisects after the cursor and the count is a length;
- least-open keeps a lazy heap of (open, assigned_order, id) over the
  members. Every change of a member's key is logged and pushes a fresh
  entry, so an entry whose key is not its user's current one is stale and
  dropped when it reaches the top. Caps are monotone in `open`: if the least
  loaded member fails them, every member does.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from heapq import heapify, heappop, heappush
from itertools import count

from .compiler import LEAST_OPEN, NO_FIELDS, CompiledRoute
from .roster import Roster, User

# (open, assigned_order, id, serial, user): least-open order, ties never reaching the user
_HeapEntry = tuple[int, int, str, int, User]


class LiveCandidates:
    """One capped team or space route's eligible users, brought up to date when asked."""

    def __init__(self, route: CompiledRoute, roster: Roster):
        self.route = route
        self.roster = roster
        self.least_open = route.logic == LEAST_OPEN
        self._serial = count()  # orders heap entries of equal keys without comparing users
        self._rebuild()

    @property
    def count(self) -> int:
        """How many users are eligible now."""
        return len(self.passing)

    def choose(self) -> User | None:
        """SPEC 3.4 over the eligible users; None when there is none."""
        self._catch_up()
        if self.least_open:
            return self._least_open()
        return self._round_robin()

    # ------------------------------------------------------------- choosing

    def _least_open(self) -> User | None:
        heap, members = self.heap, self.members
        while heap:
            open_count, order, user_id, _, user = heap[0]
            if members.get(user_id) is user and open_count == user.open and order == user.assigned_order:
                return user if self._passes_caps(user) else None
            heappop(heap)
        return None

    def _round_robin(self) -> User | None:
        passing = self.passing
        if not passing:
            return None
        pool_key = self.route.pool_key
        assert pool_key is not None  # a live set is kept for team and space routes only
        cursor = self.roster.cursors.get(pool_key)
        place = 0 if cursor is None else bisect_right(passing, cursor) % len(passing)
        return self.members[passing[place]]

    # ------------------------------------------------------- keeping up to date

    def _rebuild(self) -> None:
        roster = self.roster
        self.profile_read, self.count_read = roster.profile_log.end, roster.count_log.end
        pool = roster.pool(self.route.team)
        self.pool_size = len(pool)
        self.members = {user.id: user for user in pool if self._is_member(user)}
        self.passing = [user_id for user_id, user in self.members.items() if self._passes_caps(user)]
        if self.least_open:
            self._heap_members()

    def _catch_up(self) -> None:
        profile_log, count_log = self.roster.profile_log, self.roster.count_log
        if self.count_read == count_log.end and self.profile_read == profile_log.end:
            return
        profiles, counts = profile_log.since(self.profile_read), count_log.since(self.count_read)
        # Far behind (or behind what the logs keep), a pass over the pool is cheaper than user by user.
        if profiles is None or counts is None or len(profiles) + len(counts) > self.pool_size // 2 + 16:
            self._rebuild()
            return
        for user_id in dict.fromkeys(profiles):
            self._profile_changed(user_id)
        for user_id in dict.fromkeys(counts):
            user = self.members.get(user_id)
            if user is not None:  # a count never changes who is a member
                self._count_changed(user)
        self.profile_read += len(profiles)
        self.count_read += len(counts)
        if self.least_open and len(self.heap) > 2 * len(self.members) + 64:  # mostly stale entries
            self._heap_members()

    def _profile_changed(self, user_id: str) -> None:
        user = self.roster.users.get(user_id)
        if user is not None and self._is_member(user):
            self.members[user_id] = user
            self._count_changed(user)
        elif self.members.pop(user_id, None) is not None:
            self._set_passing(user_id, False)

    def _count_changed(self, member: User) -> None:
        if self.least_open:
            heappush(self.heap, self._heap_entry(member))
        self._set_passing(member.id, self._passes_caps(member))

    def _set_passing(self, user_id: str, passes: bool) -> None:
        passing = self.passing
        place = bisect_left(passing, user_id)
        present = place < len(passing) and passing[place] == user_id
        if passes and not present:
            passing.insert(place, user_id)
        elif present and not passes:
            del passing[place]

    def _heap_members(self) -> None:
        self.heap: list[_HeapEntry] = [self._heap_entry(user) for user in self.members.values()]
        heapify(self.heap)

    def _heap_entry(self, user: User) -> _HeapEntry:
        return (user.open, user.assigned_order, user.id, next(self._serial), user)

    def _is_member(self, user: User) -> bool:
        return self.roster.in_pool(user, self.route.team) and _passes(self.route.static_filters, user)

    def _passes_caps(self, user: User) -> bool:
        return _passes(self.route.per_pick_filters, user)


def _passes(filters: tuple, user: User) -> bool:
    """Every filter holds for `user` (a plain loop: this runs for every count change)."""
    for condition in filters:
        if not condition(user, NO_FIELDS, NO_FIELDS):
            return False
    return True
