"""Candidate sets that choose in O(log n) while counts change (the batch fast path).

A candidate set holds the users a route could pick for one group of contacts
once the filters that read nothing changing have been applied. What remains
is checked per pick by `accept`: the `only`s that read `open` or
`last_assigned_at`, which move as the pass assigns contacts.

Least-open keeps a lazy heap: an entry may be older (smaller) than its user's
real key; it is refreshed when it reaches the top. A key only grows by
assignment; when one shrinks (a contact taken away) the owner pushes a fresh
entry (`key_shrank`), so every user always has an entry no larger than its key.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from heapq import heapify, heappop, heappush, heapreplace

from .roster import User

Accept = Callable[[User], bool] | None


class RoundRobinSet:
    def __init__(self, users: list[User], cursors: dict[str, str], pool_key: str, monotone: bool):
        self.users = users
        self.ids = [user.id for user in users]
        self.cursors = cursors
        self.pool_key = pool_key
        # Under monotone caps a set where nobody passed stays so until a count shrinks.
        self.monotone = monotone
        self.exhausted = False

    def choose(self, accept: Accept) -> User | None:
        users = self.users
        count = len(users)
        if not count:
            self.exhausted = True
            return None
        cursor = self.cursors.get(self.pool_key)
        start = 0 if cursor is None else bisect_right(self.ids, cursor)
        if accept is None:
            return users[start % count]
        if self.exhausted:
            return None
        for step in range(count):
            user = users[(start + step) % count]
            if accept(user):
                return user
        self.exhausted = self.monotone
        return None

    def members(self) -> list[User]:
        return self.users

    def key_shrank(self, user: User) -> None:
        self.exhausted = False


class LeastOpenSet:
    def __init__(self, users: list[User], monotone: bool):
        # A monotone `accept` (caps like `open < 5`) that fails the least
        # loaded user fails everyone, so the search can stop at the top.
        self.monotone = monotone
        self.exhausted = False  # nobody passes, and only a shrinking count can change that
        self.heap = [(user.open, user.assigned_order, user.id, user) for user in users]
        heapify(self.heap)

    def choose(self, accept: Accept) -> User | None:
        heap = self.heap
        if not heap:
            self.exhausted = True
            return None
        if self.exhausted:  # nobody passed, and no count has fallen since
            return None
        passed_over = []
        chosen = None
        while heap:
            open_count, order, user_id, user = heap[0]
            if open_count != user.open or order != user.assigned_order:
                # Refreshed inline, not by a call: this runs once per assignment or more.
                if user.open > open_count or (user.open == open_count and user.assigned_order > order):
                    heapreplace(heap, (user.open, user.assigned_order, user_id, user))
                else:  # a smaller, fresh entry was pushed when the key shrank
                    heappop(heap)
                continue
            if accept is None or accept(user):
                chosen = user
                break
            if self.monotone:
                self.exhausted = True
                break
            passed_over.append(heappop(heap))
        for entry in passed_over:
            heappush(heap, entry)
        return chosen

    def members(self) -> list[User]:
        return [entry[-1] for entry in self.heap]

    def key_shrank(self, user: User) -> None:
        self.exhausted = False
        heappush(self.heap, (user.open, user.assigned_order, user.id, user))
