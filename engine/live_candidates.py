"""A route's candidates kept up to date as users change (the live engine's fast path).

For a team or space route whose per-pick filters are all caps on `open` or
indexed shapes (filters.py), nothing needs a pass over the pool:

- `RouteCandidates` keeps the route's *members* (the pool narrowed by the
  filters on unchanging user fields), when the route has an indexed filter
  an index of them (indexes.py), and which members the caps turn away;
- a `KeyedCandidates` per value of the contact and `now` fields the indexed
  filters read (`contact.language` = "es", `now.hour` = 9) holds the members
  those filters let through for that value; it is built from the index on
  first use, and the least recently used goes once a route holds MAX_SETS
  of them. Sets keyed by `now` are for the current values only: when the
  hour moves, the first decision builds the set for the new hour, once,
  and the sets of the hour before go;
- within a set, `passing` is the ids of the members the caps let through,
  sorted, so round-robin bisects after the cursor and the count is a
  length; least-open keeps a lazy heap (choice.py). Caps are monotone in
  `open`: if the least loaded member fails them, every member does.

The route follows the roster's journal with its own reader and catches up
when asked. A profile change goes to every set (the user may join one); a
count change touches the sets only when it matters to them: when the user
crosses a cap (the route keeps who fails its caps, so a count that rises
within them costs one comparison) or, for least-open, when it falls (the
heaps take a fresh entry; a rise is found by the heap itself when the entry
reaches the top). So a decision costs O(log n) plus the changes since the
route was last used, never a pass over the pool.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Collection, Hashable
from contextlib import suppress
from typing import Any

from rota.storage.kinds import value_kind
from rota.vocabulary import Scope

from .choice import LeastOpenHeap, first_after
from .compiler import LEAST_OPEN, NO_FIELDS, CompiledRoute
from .filters import Condition, KeyField, Shape
from .indexes import UserIndex
from .roster import PROFILE_BITS, Change, JournalReader, Roster, User

MAX_SETS = 64  # candidate sets kept per route
MAX_ITEM_KEYS = 4096  # the keys of list items remembered per route (`RouteCandidates._item_key`)
UNKEYED: tuple[Hashable, ...] = ()  # the key of the one set of a route whose filters read no contact or `now` field
FELL = Change.COUNT_FELL.value
_KEYED_KINDS = frozenset({None, "string", "number", "bool", "timestamp"})
LIST_KIND = value_kind([])


CONTACT = Scope.CONTACT.value


def key_values(keys: tuple[KeyField, ...], contact: dict[str, Any], moment: dict[str, Any]) -> dict[KeyField, Any]:
    """What the indexed filters read for one decision: each key field's value, from the contact or the clock."""
    return {key: (contact if key.scope == CONTACT else moment).get(key.name) for key in keys}


def set_key(values: dict[KeyField, Any], unordered: frozenset[KeyField] = frozenset()) -> tuple[Hashable, ...] | None:
    """The key fields' values as a set's key, each with its kind (so True and 1 differ);
    None when one of them cannot key a set (an object, say). A list of an `unordered` field
    keys by its items alone: `user.F in contact.L` lets the same users through for ["a", "b"] and ["b", "a"]."""
    parts = []
    for key, value in values.items():
        part = _key_part(value)
        if part is None:
            return None
        if key in unordered and part[0] == LIST_KIND:
            part = (LIST_KIND, frozenset(part[1]))
        parts.append(part)
    return tuple(parts)


def _key_part(value: Any) -> tuple[str | None, Any] | None:
    kind = value_kind(value)
    if kind == LIST_KIND:
        items = tuple(_key_part(item) for item in value)
        return None if any(item is None for item in items) else (kind, items)
    return (kind, value) if kind in _KEYED_KINDS else None


class RouteCandidates:
    """One team or space route's members, its index, who fails its caps, and its candidate sets."""

    def __init__(self, route: CompiledRoute, roster: Roster):
        self.route = route
        self.roster = roster
        plan = route.plan
        self.key_fields = plan.key_fields
        # Where the `now` fields sit in a set's key: the sets of other moments go when these move.
        self.moment_places = tuple(place for place, key in enumerate(self.key_fields) if key.scope != CONTACT)
        self.moment: tuple[Hashable, ...] = ()  # the `now` values of the sets kept
        # The fields only `user.F in contact.L` reads: their lists key sets whatever their order.
        indexes = [c.index for c in plan.indexed if c.index is not None]
        self.unordered = frozenset(
            key for key in self.key_fields if all(i.shape is Shape.MEMBER for i in indexes if i.key == key)
        )
        self.least_open = route.logic == LEAST_OPEN
        self.indexed: tuple[Condition, ...] = tuple(c.condition for c in plan.indexed)
        self.caps: tuple[Condition, ...] = tuple(c.condition for c in plan.caps)
        specs = [c.index for c in plan.indexed if c.index is not None]
        self.spec = specs[0] if specs else None  # one index narrows; the filters themselves decide
        # A route whose one indexed filter is `user.F in contact.L` keeps a set per item of L, not per list:
        # a user is in one set (the one of its value), not in every set of a list that holds it.
        only = specs[0] if len(plan.indexed) == 1 and specs else None
        self.split = only.key if only is not None and only.shape is Shape.MEMBER and only.key.scope == CONTACT else None
        self.item_keys: dict[tuple[type, Any], tuple[tuple[Hashable, ...], dict[KeyField, Any]] | None] = {}
        self._rebuild()

    def pick(
        self, fields: dict[str, Any], moment: dict[str, Any], released: Collection[str] = ()
    ) -> tuple[User | None, int] | None:
        """Whom SPEC 3.4 chooses for a contact with these fields at this moment (the `now.*` fields),
        less the users it was released from (SPEC 4.1), and how many are eligible; None when the values
        read cannot key a set, or the set's choice is a released user (the caller scans)."""
        values = key_values(self.key_fields, fields, moment)
        split = self.split
        if split is not None and isinstance(values[split], (list, tuple)):
            return self._pick_among_items(split, values[split], released)
        key = set_key(values, self.unordered)
        if key is None:
            return None
        self.catch_up()
        return self._set_for(key, values).pick(released)

    def _pick_among_items(
        self, split: KeyField, items: list | tuple, released: Collection[str]
    ) -> tuple[User | None, int] | None:
        """`pick` for `user.F in contact.L` (`split`): the union of the sets of L's items. A user passes the
        set of at most one item (the one its value equals, by SPEC 2.3's kinds), so the sets are disjoint:
        the union's count is their sum, and its choice the best of theirs."""
        sets_by_key: dict[tuple[Hashable, ...], dict[KeyField, Any]] = {}
        for item in items:
            found = self._item_key(split, item)
            if found is None:
                return None
            sets_by_key.setdefault(*found)
        self.catch_up()
        if len(sets_by_key) == 1:  # one item (or one, repeated): its set is the union
            return self._set_for(*next(iter(sets_by_key.items()))).pick(released)
        chosen, eligible = [], 0
        for key, values in sets_by_key.items():
            user, count = self._set_for(key, values).pick(released)
            eligible += count
            if user is not None:
                chosen.append(user)
        if not chosen:
            return None, eligible
        if self.least_open:
            return min(chosen, key=User.least_open_key), eligible
        # Each set's choice is its first user after the cursor, or its first when none is: the union's
        # is the smallest id after the cursor, or the smallest of all when no set has one after it.
        pool_key = self.route.pool_key
        assert pool_key is not None  # a live set is kept for team and space routes only
        cursor = self.roster.cursors.get(pool_key)
        after = [user for user in chosen if cursor is None or user.id > cursor]
        return min(after or chosen, key=lambda user: user.id), eligible

    def _item_key(self, split: KeyField, item: Any) -> tuple[tuple[Hashable, ...], dict[KeyField, Any]] | None:
        """The key and key values of the set of one item of the contact's list (None: it cannot key a set),
        remembered by the item's type and value: the same few items come back decision after decision."""
        try:
            return self.item_keys[type(item), item]
        except (KeyError, TypeError):  # not yet seen, or an item that does not hash (a list)
            pass
        values = {split: [item]}
        key = set_key(values, self.unordered)
        found = None if key is None else (key, values)
        if len(self.item_keys) < MAX_ITEM_KEYS:
            with suppress(TypeError):
                self.item_keys[type(item), item] = found
        return found

    def _set_for(self, key: tuple[Hashable, ...], values: dict[KeyField, Any]) -> KeyedCandidates:
        """The set kept under `key` (for these key values), made on first use; the least recently used goes."""
        sets = self.sets
        candidates = sets.get(key)
        if candidates is None:
            if self.moment_places:
                self._keep_moment(key)
            candidates = sets[key] = KeyedCandidates(self, values)
            if len(sets) > MAX_SETS:
                sets.popitem(last=False)[1].drop()
        else:
            sets.move_to_end(key)
        return candidates

    def pick_unkeyed(self, released: Collection[str] = ()) -> tuple[User | None, int]:
        """`pick` for a route whose filters read no contact or `now` field: its one set, for every contact,
        under the key `pick` would work out (no values to read, and no other set to evict it)."""
        self.catch_up()
        candidates = self.sets.get(UNKEYED)
        if candidates is None:
            candidates = self.sets[UNKEYED] = KeyedCandidates(self, {})
        return candidates.pick(released)

    def lookup(self, values: dict[KeyField, Any]) -> list[User]:
        """The members that may pass the indexed filters for these key values (all of them, without an index)."""
        ids = None
        if self.index is not None and self.spec is not None:
            ids = self.index.lookup(values[self.spec.key])
        if ids is None:
            return list(self.members.values())
        members = self.members
        return [members[user_id] for user_id in ids]

    def _keep_moment(self, key: tuple[Hashable, ...]) -> None:
        """A set is wanted for `key`: if its `now` values are new, the sets of the moment before go."""
        moment = tuple(key[place] for place in self.moment_places)
        if moment != self.moment:
            self.moment = moment
            self.sets.clear()
            self.holders.clear()

    # ------------------------------------------------------- keeping up to date

    def _rebuild(self) -> None:
        self.reader = JournalReader(self.roster.journal)
        pool = self.roster.pool(self.route.team)
        self.pool_size = len(pool)
        self.members = {user.id: user for user in pool if self._is_member(user)}
        self.index = UserIndex(self.spec, self.members.values()) if self.spec is not None else None
        self.over_caps = {user_id for user_id, user in self.members.items() if not passes(self.caps, user, NO_FIELDS)}
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
            changes[user_id] = changes.get(user_id, 0) | change
        far_behind = self.pool_size // 2 + 16  # more profiles changed: a pass over the pool is cheaper
        if len(changes) > far_behind and sum(1 for bits in changes.values() if bits & PROFILE_BITS) > far_behind:
            self._rebuild()
            return
        sets, members = self.sets, self.members
        for user_id, bits in changes.items():  # each user's changes touch that user's places only
            if bits & PROFILE_BITS:
                self._profile_changed(user_id)
                for candidates in sets.values():
                    candidates.profile_changed(user_id, bits)
            elif user_id in members:  # a count never changes who is a member
                self._count_changed(members[user_id], bits)

    def _profile_changed(self, user_id: str) -> None:
        user = self.roster.users.get(user_id)
        if self.index is not None and user_id in self.members:
            self.index.remove(user_id)
        self.over_caps.discard(user_id)
        if user is not None and self._is_member(user):
            self.members[user_id] = user
            if self.index is not None:
                self.index.add(user)
            if not passes(self.caps, user, NO_FIELDS):
                self.over_caps.add(user_id)
        else:
            self.members.pop(user_id, None)

    def _count_changed(self, user: User, bits: int) -> None:
        """A member's count or order changed: only a cap crossed, or a count fallen under least-open,
        concerns the sets that hold it."""
        user_id = user.id
        holders = self.holders.get(user_id, ())
        if self.caps:
            over = not passes(self.caps, user, NO_FIELDS)
            if over != (user_id in self.over_caps):
                if over:
                    self.over_caps.add(user_id)
                else:
                    self.over_caps.discard(user_id)
                for candidates in holders:
                    candidates.set_passing(user_id, not over)
        if bits & FELL and self.least_open:
            for candidates in holders:
                candidates.push(user)

    def _is_member(self, user: User) -> bool:
        return self.roster.in_pool(user, self.route.team) and passes(self.route.static_filters, user, NO_FIELDS)


class KeyedCandidates:
    """The eligible users of one route for one value of the contact and `now` fields its indexed filters read."""

    def __init__(self, route: RouteCandidates, values: dict[KeyField, Any]):
        self.route = route
        # The values the set is for, as the indexed filters read them: a contact and a moment.
        self.contact = {key.name: value for key, value in values.items() if key.scope == CONTACT}
        self.moment = {key.name: value for key, value in values.items() if key.scope != CONTACT}
        self.members = {user.id: user for user in route.lookup(values) if self._passes_indexed(user)}
        over_caps = route.over_caps
        self.passing = sorted(user_id for user_id in self.members if user_id not in over_caps)
        self.heap = LeastOpenHeap(self.members.values() if route.least_open else (), self.members)
        for user_id in self.members:
            route.holders.setdefault(user_id, set()).add(self)

    def pick(self, released: Collection[str] = ()) -> tuple[User | None, int]:
        """`choose`, and how many users but `released` are eligible now."""
        chosen = self.choose(released)
        if not released:
            return chosen, len(self.passing)
        return chosen, len(self.passing) - sum(1 for user_id in released if self.passes(user_id))

    def passes(self, user_id: str) -> bool:
        """Whether the user is eligible now."""
        place = bisect_left(self.passing, user_id)
        return place < len(self.passing) and self.passing[place] == user_id

    def choose(self, released: Collection[str] = ()) -> User | None:
        """SPEC 3.4 over the eligible users but `released` (SPEC 4.1, a few); None when there is none."""
        route = self.route
        if route.least_open:
            # The least loaded user not released: the caps are monotone, so if it fails them everyone left does.
            top = (
                self.heap.choose(lambda user: user.id not in released, monotone=False) if released else self.heap.top()
            )
            return top if top is not None and top.id not in route.over_caps else None
        passing = self.passing
        if not passing:
            return None
        pool_key = route.route.pool_key
        assert pool_key is not None  # a live set is kept for team and space routes only
        start = first_after(passing, route.roster.cursors.get(pool_key))
        if not released:
            return self.members[passing[start]]
        # The first after the cursor that is not released: at most one step per released user.
        for step in range(len(passing)):
            user_id = passing[(start + step) % len(passing)]
            if user_id not in released:
                return self.members[user_id]
        return None

    def drop(self) -> None:
        """The set is evicted: its users are no longer held by it."""
        holders = self.route.holders
        for user_id in self.members:
            holders[user_id].discard(self)

    def push(self, user: User) -> None:
        """The member's key fell: a fresh heap entry (the heap built again once mostly stale)."""
        heap = self.heap
        if len(heap) > 2 * len(self.members) + 64:
            heap.rebuild(self.members.values())
        else:
            heap.push(user)

    def profile_changed(self, user_id: str, bits: int) -> None:
        """The user's profile changed (and maybe its count, as `bits` say); the route is up to date."""
        route = self.route
        member = self.members.get(user_id)
        user = route.members.get(user_id)
        if user is None or not self._passes_indexed(user):
            if member is not None:
                del self.members[user_id]
                route.holders[user_id].discard(self)
                self.set_passing(user_id, False)
            return
        if member is not user:  # joined (or came back as another user)
            self.members[user_id] = user
            route.holders.setdefault(user_id, set()).add(self)
            bits |= FELL
        if bits & FELL and route.least_open:
            self.push(user)
        self.set_passing(user_id, user_id not in route.over_caps)

    def set_passing(self, user_id: str, passing: bool) -> None:
        ids = self.passing
        place = bisect_left(ids, user_id)
        present = place < len(ids) and ids[place] == user_id
        if passing and not present:
            ids.insert(place, user_id)
        elif present and not passing:
            del ids[place]

    def _passes_indexed(self, user: User) -> bool:
        return passes(self.route.indexed, user, self.contact, self.moment)


def passes(
    filters: tuple[Condition, ...], user: User, contact: dict[str, Any], moment: dict[str, Any] = NO_FIELDS
) -> bool:
    """Every filter holds for `user` (a plain loop: this runs for every change of a count)."""
    for condition in filters:
        if not condition(user, contact, moment):
            return False
    return True
