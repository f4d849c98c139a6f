"""SPEC 3.4, the choosing rule, in one place: every path that picks a user uses it.

- round-robin: the first candidate, by id, after the pool's cursor (wrapping
  round); the first by id when the pool has no cursor yet;
- least-open: the smallest key (open, assigned_order, id), that is fewest
  open contacts, then least recently assigned, then smallest id.

`Router.choose` applies the rule to a list of candidates (the plain path);
the live candidate sets (live_candidates.py) keep a `LeastOpenHeap` and the
batch's candidate sets (candidates.py) a `RisingKeyHeap`, its int-keyed twin
for a pass, so that a choice costs O(log n) while counts change.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from heapq import heapify, heappop, heappush, heapreplace
from itertools import count
from typing import Generic, TypeVar

from .roster import User

Accept = Callable[[User], bool] | None


def least_open(candidates: Iterable[User]) -> User:
    """The candidate with the smallest least-open key."""
    return min(candidates, key=User.least_open_key)


def first_after(ids: Sequence[str], cursor: str | None) -> int:
    """Where round-robin starts in `ids` (sorted): just after the cursor, wrapping round."""
    if cursor is None or not ids:
        return 0
    return bisect_right(ids, cursor) % len(ids)


# (open, assigned_order, id, serial, user): least-open order; the serial keeps ties from reaching the user.
HeapEntry = tuple[int, int, str, int, User]
Entry = TypeVar("Entry", HeapEntry, int)  # what a lazy heap keeps per user


class LazyHeap(Generic[Entry]):
    """What both lazy heaps share: `top` (the user with the smallest key, once stale entries are dealt
    with) is each one's own; choosing past users a check refuses is the same for both."""

    heap: list[Entry]

    def __len__(self) -> int:
        return len(self.heap)

    def top(self) -> User | None:
        raise NotImplementedError

    def choose(self, accept: Accept = None, monotone: bool = True) -> User | None:
        """The user with the smallest key that `accept` lets through.

        A monotone `accept` (caps like `open < 5`) that fails the least loaded
        user fails everyone, so the search stops at the top."""
        top = self.top()
        if top is None or accept is None or accept(top):
            return top
        if monotone:
            return None
        passed_over = []
        chosen = None
        while (user := self.top()) is not None:
            if accept(user):
                chosen = user
                break
            passed_over.append(heappop(self.heap))
        for entry in passed_over:
            heappush(self.heap, entry)
        return chosen


class LeastOpenHeap(LazyHeap[HeapEntry]):
    """A lazy heap of users by least-open key.

    An entry keeps the key its user had when it was pushed. A key grows by
    assignment without telling the heap: an entry older than its user's key
    is refreshed when it reaches the top. When a key falls (a contact taken
    away), the owner must `push` the user again, so every user always has an
    entry no larger than its key, and an entry larger than its user's key is
    a leftover, dropped. With `members`, a user that is no longer in it (or
    is another object now) is dropped too."""

    def __init__(self, users: Iterable[User], members: Mapping[str, User] | None = None):
        self.members = members
        self._serial = count()
        self.rebuild(users)

    def rebuild(self, users: Iterable[User]) -> None:
        self.heap: list[HeapEntry] = [self._entry(user) for user in users]
        heapify(self.heap)

    def push(self, user: User) -> None:
        heappush(self.heap, self._entry(user))

    def top(self) -> User | None:
        """The user with the smallest key; None when the heap holds nobody."""
        # Written out, not through helpers: this runs once or more per assignment.
        heap, members, serial = self.heap, self.members, self._serial
        while heap:
            open_count, order, user_id, _, user = heap[0]
            if members is not None and members.get(user_id) is not user:
                heappop(heap)
                continue
            now_open, now_order = user.open, user.assigned_order
            if open_count == now_open and order == now_order:
                return user
            if now_open > open_count or (now_open == open_count and now_order > order):
                heapreplace(heap, (now_open, now_order, user_id, next(serial), user))
            else:  # a smaller entry was pushed when the key fell
                heappop(heap)
        return None

    def _entry(self, user: User) -> HeapEntry:
        return (user.open, user.assigned_order, user.id, next(self._serial), user)


@dataclass(frozen=True)
class PassKeys:
    """How a pass's `RisingKeyHeap`s pack keys: every user it may pick, by id (a user's rank is its place),
    and a bound above every `assigned_order + 1` the pass can reach."""

    ranked: list[User]
    rank_of: dict[str, int]
    order_span: int

    @classmethod
    def of(cls, users: Iterable[User], next_order: int, assignments: int) -> PassKeys:
        """For a pass over `users` making at most `assignments` assignments from `next_order` on."""
        ranked = sorted(users, key=lambda user: user.id)
        return cls(ranked, {user.id: rank for rank, user in enumerate(ranked)}, next_order + assignments + 1)

    def below_open(self, limit: int) -> int:
        """The smallest key a user with `limit` open contacts can have: a key is below it when its user
        has fewer, so a cap `open < limit` is one compare of the key."""
        return limit * self.order_span * len(self.ranked)


class RisingKeyHeap(LazyHeap[int]):
    """The lazy heap for a pass in which keys rise and seldom fall (the batch): entries are plain
    ints, so a comparison is one machine compare instead of a tuple's, and no serial is needed.

    An entry packs a user's least-open key as `(open * order_span + assigned_order + 1) * len(ranked)
    + rank` (see `PassKeys`): ordering the ints is ordering the keys. The refresh and the falls work as
    in `LeastOpenHeap`: an entry older than its user's key is refreshed at the top, one newer (pushed
    when the key fell) wins, the stale one is dropped."""

    def __init__(self, users: Iterable[User], keys: PassKeys):
        self.rank_of, self.ranked = keys.rank_of, keys.ranked
        self.span, self.size = keys.order_span, len(keys.ranked)
        self.heap = [self._key(user) for user in users]
        heapify(self.heap)

    def push(self, user: User) -> None:
        heappush(self.heap, self._key(user))

    def top(self) -> User | None:
        """The user with the smallest key; None when the heap holds nobody."""
        return self.choose_below(None)

    def choose_below(self, bound: int | None) -> User | None:
        """The user with the smallest key when that key is below `bound` (None: any), else None: `choose`
        for a cap made a bound (`PassKeys.below_open`), with no call per pick to check it."""
        # Written out, not through helpers: this runs once or more per assignment.
        heap, ranked, span, size = self.heap, self.ranked, self.span, self.size
        while heap:
            key = heap[0]
            rank = key % size
            user = ranked[rank]
            now_key = (user.open * span + user.assigned_order + 1) * size + rank
            if now_key == key:
                return user if bound is None or key < bound else None
            if now_key > key:
                heapreplace(heap, now_key)
            else:  # a smaller entry was pushed when the key fell
                heappop(heap)
        return None

    def _key(self, user: User) -> int:
        return (user.open * self.span + user.assigned_order + 1) * self.size + self.rank_of[user.id]
