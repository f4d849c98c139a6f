"""A route's candidates kept up to date as users change (the live engine's fast path).

For a team or space route whose per-pick filters are all caps on `open` or
indexed shapes (filters.py), nothing needs a pass over the pool:

- `RouteCandidates` keeps the route's *members* (the pool narrowed by the
  filters on unchanging user fields) and, when the route has an indexed
  filter, an index of them (indexes.py);
- a `KeyedCandidates` per value of the contact fields the indexed filters
  read (`contact.language` = "es") holds the members those filters let
  through for that value; it is built from the index on first use, and the
  least recently used goes once a route holds MAX_SETS of them;
- within a set, `passing` is the ids of the members the caps let through,
  sorted, so round-robin bisects after the cursor and the count is a
  length; least-open keeps a lazy heap (choice.py). Caps are monotone in
  `open`: if the least loaded member fails them, every member does.

The route follows the roster's journal with its own reader and catches up
when asked, handing each change to the sets it concerns, so a decision
costs O(log n) plus the changes since the route was last used, never a
pass over the pool.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Collection, Hashable
from typing import Any

from rota.storage.kinds import value_kind

from .choice import LeastOpenHeap, first_after
from .compiler import LEAST_OPEN, NO_FIELDS, CompiledRoute
from .filters import Condition
from .indexes import UserIndex
from .roster import Change, JournalReader, Roster, User

MAX_SETS = 64  # candidate sets kept per route

# What a user's journal entries since the route's last look say, as bits.
_PROFILE, _FELL, _ROSE = 1, 2, 4
_BITS = {Change.PROFILE: _PROFILE, Change.TEAMS: _PROFILE, Change.COUNT_FELL: _FELL, Change.COUNT: _ROSE}
_KEYED_KINDS = frozenset({None, "string", "number", "bool", "timestamp"})


def contact_key(fields: dict[str, Any], names: tuple[str, ...]) -> Hashable | None:
    """The contact's values of `names` as a key, each with its kind (so True and 1 differ);
    None when one of them cannot key a set (an object, say)."""
    parts = []
    for name in names:
        part = _key_part(fields.get(name))
        if part is None:
            return None
        parts.append(part)
    return tuple(parts)


def _key_part(value: Any) -> Hashable | None:
    kind = value_kind(value)
    if kind == "list":
        items = tuple(_key_part(item) for item in value)
        return None if any(item is None for item in items) else (kind, items)
    return (kind, value) if kind in _KEYED_KINDS else None


class RouteCandidates:
    """One team or space route's members, its index and its candidate sets.

    It reads the roster's journal (its own reader) and passes each change on
    to the sets it concerns: a count change to the sets that hold the user,
    a profile change to every set (the user may join one)."""

    def __init__(self, route: CompiledRoute, roster: Roster):
        self.route = route
        self.roster = roster
        plan = route.plan
        self.key_fields = plan.key_fields
        self.indexed: tuple[Condition, ...] = tuple(c.condition for c in plan.indexed)
        self.caps: tuple[Condition, ...] = tuple(c.condition for c in plan.caps)
        specs = [c.index for c in plan.indexed if c.index is not None]
        self.spec = specs[0] if specs else None  # one index narrows; the filters themselves decide
        self._rebuild()

    def pick(self, fields: dict[str, Any], released: Collection[str] = ()) -> tuple[User | None, int] | None:
        """Whom SPEC 3.4 chooses for a contact with these fields, less the users it was released from
        (SPEC 4.1), and how many are eligible; None when the contact's values cannot key a set, or the
        set's choice is a released user (the caller scans)."""
        key = contact_key(fields, self.key_fields)
        if key is None:
            return None
        self.catch_up()
        sets = self.sets
        candidates = sets.get(key)
        if candidates is None:
            candidates = sets[key] = KeyedCandidates(self, {name: fields.get(name) for name in self.key_fields})
            if len(sets) > MAX_SETS:
                sets.popitem(last=False)[1].drop()
        else:
            sets.move_to_end(key)
        chosen = candidates.choose()
        if not released:
            return chosen, candidates.count
        # Round-robin's first after the cursor, or the least loaded, is still the one once the released
        # users are taken out, unless it is one of them.
        if chosen is not None and chosen.id in released:
            return None
        return chosen, candidates.count - sum(1 for user_id in released if candidates.passes(user_id))

    def lookup(self, contact: dict[str, Any]) -> list[User]:
        """The members that may pass the indexed filters for this contact (all of them, without an index)."""
        ids = None
        if self.index is not None and self.spec is not None:
            ids = self.index.lookup(contact.get(self.spec.contact_field))
        if ids is None:
            return list(self.members.values())
        members = self.members
        return [members[user_id] for user_id in ids]

    # ------------------------------------------------------- keeping up to date

    def _rebuild(self) -> None:
        self.reader = JournalReader(self.roster.journal)
        pool = self.roster.pool(self.route.team)
        self.pool_size = len(pool)
        self.members = {user.id: user for user in pool if self._is_member(user)}
        self.index = UserIndex(self.spec, self.members.values()) if self.spec is not None else None
        self.sets: OrderedDict[Hashable, KeyedCandidates] = OrderedDict()  # least recently used first
        self.holders: dict[str, set[KeyedCandidates]] = {}  # the sets each user is in

    def catch_up(self) -> None:
        if not self.reader.behind:
            return
        entries = self.reader.read()
        if entries is None:  # behind what the journal keeps
            self._rebuild()
            return
        changes: dict[str, int] = {}
        for change, user_id in entries:
            changes[user_id] = changes.get(user_id, 0) | _BITS[change]
        profiles = [user_id for user_id, bits in changes.items() if bits & _PROFILE]
        if len(profiles) > self.pool_size // 2 + 16:  # far behind: a pass over the pool is cheaper
            self._rebuild()
            return
        for user_id in profiles:
            self._profile_changed(user_id)
        sets, holders = self.sets, self.holders
        for user_id, bits in changes.items():
            concerned = list(sets.values()) if bits & _PROFILE else holders.get(user_id, ())
            for candidates in concerned:
                candidates.changed(user_id, bits)

    def _profile_changed(self, user_id: str) -> None:
        user = self.roster.users.get(user_id)
        if self.index is not None and user_id in self.members:
            self.index.remove(user_id)
        if user is not None and self._is_member(user):
            self.members[user_id] = user
            if self.index is not None:
                self.index.add(user)
        else:
            self.members.pop(user_id, None)

    def _is_member(self, user: User) -> bool:
        return self.roster.in_pool(user, self.route.team) and passes(self.route.static_filters, user, NO_FIELDS)


class KeyedCandidates:
    """The eligible users of one route for one value of the contact fields its indexed filters read."""

    def __init__(self, route: RouteCandidates, contact: dict[str, Any]):
        self.route = route
        self.contact = contact  # the values the set is for: what the indexed filters read
        self.least_open = route.route.logic == LEAST_OPEN
        self.members = {user.id: user for user in route.lookup(contact) if self._passes_indexed(user)}
        self.passing = sorted(user_id for user_id, user in self.members.items() if passes(route.caps, user, NO_FIELDS))
        self.heap = LeastOpenHeap(self.members.values() if self.least_open else (), self.members)
        for user_id in self.members:
            route.holders.setdefault(user_id, set()).add(self)

    @property
    def count(self) -> int:
        """How many users are eligible now."""
        return len(self.passing)

    def passes(self, user_id: str) -> bool:
        """Whether the user is eligible now."""
        place = bisect_left(self.passing, user_id)
        return place < len(self.passing) and self.passing[place] == user_id

    def choose(self) -> User | None:
        """SPEC 3.4 over the eligible users; None when there is none."""
        if self.least_open:
            if len(self.heap) > 2 * len(self.members) + 64:  # mostly stale entries
                self.heap.rebuild(self.members.values())
            top = self.heap.top()
            return top if top is not None and passes(self.route.caps, top, NO_FIELDS) else None
        passing = self.passing
        if not passing:
            return None
        pool_key = self.route.route.pool_key
        assert pool_key is not None  # a live set is kept for team and space routes only
        return self.members[passing[first_after(passing, self.route.roster.cursors.get(pool_key))]]

    def drop(self) -> None:
        """The set is evicted: its users are no longer held by it."""
        holders = self.route.holders
        for user_id in self.members:
            holders[user_id].discard(self)

    def changed(self, user_id: str, bits: int) -> None:
        """The user changed (what `bits` says); the route's members are already up to date."""
        member = self.members.get(user_id)
        if bits & _PROFILE:
            user = self.route.members.get(user_id)
            if user is None or not self._passes_indexed(user):
                if member is not None:
                    del self.members[user_id]
                    self.route.holders[user_id].discard(self)
                    self._set_passing(user_id, False)
                return
            if member is not user:  # joined (or came back as another user)
                self.members[user_id] = member = user
                self.route.holders.setdefault(user_id, set()).add(self)
                bits |= _FELL
        if member is None:
            return
        if bits & _FELL and self.least_open:
            self.heap.push(member)
        self._set_passing(user_id, passes(self.route.caps, member, NO_FIELDS))

    def _set_passing(self, user_id: str, passing: bool) -> None:
        ids = self.passing
        place = bisect_left(ids, user_id)
        present = place < len(ids) and ids[place] == user_id
        if passing and not present:
            ids.insert(place, user_id)
        elif present and not passing:
            del ids[place]

    def _passes_indexed(self, user: User) -> bool:
        return passes(self.route.indexed, user, self.contact)


def passes(filters: tuple[Condition, ...], user: User, contact: dict[str, Any]) -> bool:
    """Every filter holds for `user` (a plain loop: this runs for every change of a count)."""
    for condition in filters:
        if not condition(user, contact, NO_FIELDS):
            return False
    return True
