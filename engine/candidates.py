"""Candidate sets that choose in O(log n) while counts change (the batch fast path).

A candidate set holds the users a route could pick for one group of contacts
once the filters that read nothing changing have been applied. What remains
is checked per pick: the `only`s that read `open` or `last_assigned_at`,
which move as the pass assigns contacts. Caps alone (`open < N`) are the
set's own `open_below`, checked in place (on a least-open heap, as a bound on
its keys); anything else is an `accept` called per candidate. The choice
itself is SPEC 3.4's, from choice.py.

A count that falls (a contact taken away) can let a user back in: the sets
learn of it from the roster's journal (`FallenCounts`). The pass journals
nothing else (`Roster.give_unjournalled`): rises are what the lazy heaps
find out for themselves. The pass calls `catch_up` after every contact
that may have made a count fall, so a choice never has to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial

from .choice import Accept, PassKeys, RisingKeyHeap, first_after
from .roster import COUNT_FELL, JournalReader, Roster, User


class FallenCounts:
    """Follows the roster's journal for the batch's sets: tells the sets holding
    a user when its open count fell."""

    def __init__(self, roster: Roster):
        self.roster = roster
        self.reader = JournalReader(roster.journal)
        self.sets_of_user: dict[str, list[CandidateSet]] = {}
        self.falls_seen = roster.journal.falls

    def hold(self, candidate_set: CandidateSet, users: Iterable[User]) -> None:
        for user in users:
            self.sets_of_user.setdefault(user.id, []).append(candidate_set)

    def catch_up(self) -> None:
        # Every assignment is logged but counts seldom fall: until one does, nothing is read (amortised,
        # each entry is read once, at the next fall).
        falls = self.roster.journal.falls
        if falls == self.falls_seen:
            return
        self.falls_seen = falls
        entries = self.reader.read()
        if entries is None:  # too far behind to know who: as if every count fell
            fallen = list(self.sets_of_user)
        else:
            fallen = [user_id for change, user_id in entries if change is COUNT_FELL]
        users, sets_of_user = self.roster.users, self.sets_of_user
        for user_id in fallen:
            for candidate_set in sets_of_user.get(user_id, ()):
                candidate_set.key_fell(users[user_id])


class CandidateSet:
    """What both kinds of set share: under monotone caps, a set where nobody passed stays so until a count falls."""

    def __init__(self, users: list[User], monotone: bool, fallen: FallenCounts):
        self.monotone = monotone
        self._exhausted = False
        self.fallen = fallen
        fallen.hold(self, users)

    @property
    def exhausted(self) -> bool:
        """Nobody passes, and only a falling count can change that."""
        self.fallen.catch_up()
        return self._exhausted

    def key_fell(self, user: User) -> None:
        self._exhausted = False

    def choose(self, accept: Accept) -> User | None:
        raise NotImplementedError

    def chooser(self, accept: Accept) -> Callable[[], User | None]:
        """`choose(accept)` as a call without arguments, which the pass makes once per contact."""
        return partial(self.choose, accept)


class RoundRobinSet(CandidateSet):
    """`open_below`: the set's own cap (a user passes with fewer open contacts), checked in place of an
    `accept`; None, no cap."""

    def __init__(
        self,
        users: list[User],
        cursors: dict[str, str],
        pool_key: str,
        monotone: bool,
        fallen: FallenCounts,
        open_below: int | None = None,
    ):
        super().__init__(users, monotone, fallen)
        self.users = users
        self.ids = [user.id for user in users]
        self.cursors = cursors
        self.pool_key = pool_key
        self.open_below = open_below
        # The cursor this set last chose (the id the caller moves the pool's cursor to) and where
        # round-robin goes on from it: while the cursor is that very id, no search is needed.
        self._chosen_id: str | None = None
        self._after_chosen = 0

    def choose(self, accept: Accept) -> User | None:
        users = self.users
        count = len(users)
        if not count:
            self._exhausted = True
            return None
        cursor = self.cursors.get(self.pool_key)
        start = self._after_chosen if cursor is self._chosen_id else first_after(self.ids, cursor)
        below = self.open_below
        if accept is None and below is None:
            return self._chosen(start)
        if self._exhausted:
            return None
        for step in range(count):
            index = (start + step) % count
            user = users[index]
            if (below is None or user.open < below) and (accept is None or accept(user)):
                return self._chosen(index)
        self._exhausted = self.monotone
        return None

    def _chosen(self, index: int) -> User:
        user = self.users[index]
        self._chosen_id, self._after_chosen = user.id, (index + 1) % len(self.users)
        return user


class LeastOpenSet(CandidateSet):
    """`open_below` as for `RoundRobinSet`, made a bound on the heap's keys."""

    def __init__(
        self, users: list[User], monotone: bool, fallen: FallenCounts, keys: PassKeys, open_below: int | None = None
    ):
        super().__init__(users, monotone, fallen)
        self.heap = RisingKeyHeap(users, keys)
        self.bound = None if open_below is None else keys.below_open(open_below)
        self.choose_below = self.heap.choose_below

    @property
    def exhausted(self) -> bool:
        """As for every set; under the set's own cap (monotone), whether the top fails it says so at once."""
        return super().exhausted or (self.monotone and self.choose_below(self.bound) is None)

    def chooser(self, accept: Accept) -> Callable[[], User | None]:
        # With no `accept`, the heap is asked straight away (one call a pick); `exhausted` looks at the top.
        return partial(self.choose_below, self.bound) if accept is None else super().chooser(accept)

    def choose(self, accept: Accept) -> User | None:
        if self._exhausted:  # nobody passed, and no count has fallen since
            return None
        if accept is None:  # the set's own cap, if any: monotone, so the top answers for everyone
            chosen = self.choose_below(self.bound)
            self._exhausted = chosen is None
            return chosen
        chosen = self.heap.choose(accept, self.monotone)
        if chosen is None and (self.monotone or not len(self.heap)):
            self._exhausted = True
        return chosen

    def key_fell(self, user: User) -> None:
        super().key_fell(user)
        self.heap.push(user)
