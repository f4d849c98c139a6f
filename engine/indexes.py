"""Indexes of a route's members by one user field, for the indexed filter shapes (filters.py).

An index answers "which members could pass this filter for a contact whose
field holds `value`?" with a set of ids that holds every member that passes
(it may hold more, or answer None for "any member"): the candidate sets
check each one with the filter itself, so the index only has to never miss
anyone. It follows SPEC 2.3: values of different kinds never compare (a
number never equals a string), null compares with nothing, lists are
searched with `in` and never compared whole; what it cannot look up
(lists of lists, NaN, timestamps in an ordering) it answers None for.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable
from typing import Any

from rota.storage.kinds import value_kind

from .filters import IndexSpec, Shape
from .roster import User

# The kinds a value is looked up by: hashable, and equal only within their kind.
_SCALARS = frozenset({"string", "number", "bool", "timestamp"})
_ORDERED = frozenset({"string", "number", "bool"})  # timestamps may mix offsets: not sorted together
_ANY = None  # an answer: any member may pass


def scalar_key(value: Any) -> tuple[str, Any] | None:
    """A value as an index key, (kind, value): True and 1 differ, 1 and 1.0 do not; None when it has none."""
    kind = value_kind(value)
    if kind not in _SCALARS or value != value:  # NaN equals nothing, not even itself
        return None
    return (kind, value)


class UserIndex:
    def __init__(self, spec: IndexSpec, members: Iterable[User]):
        self.spec = spec
        self.by_key: dict[tuple[str, Any], set[str]] = {}  # CONTAINS, EQUALS, MEMBER
        self.sorted: dict[str, list[tuple[Any, str]]] = {}  # ORDER: per kind, (value, id) in order
        self.keys_of: dict[str, list[Any]] = {}  # what each member was filed under, to take it out again
        for user in members:
            self.add(user)

    def add(self, user: User) -> None:
        value = self.spec.read_user(user, None, None)
        if self.spec.shape is Shape.ORDER:
            kind = value_kind(value)
            if kind in _ORDERED and value == value:
                insort(self.sorted.setdefault(kind, []), (value, user.id))
                self.keys_of[user.id] = [(kind, value)]
            return
        if self.spec.shape is Shape.CONTAINS:  # `in` a user value that is not a list never holds
            items = value if isinstance(value, (list, tuple)) else []
        else:
            items = [value]
        keys = [key for key in map(scalar_key, items) if key is not None]
        for key in keys:
            self.by_key.setdefault(key, set()).add(user.id)
        self.keys_of[user.id] = keys

    def remove(self, user_id: str) -> None:
        keys = self.keys_of.pop(user_id, ())
        if self.spec.shape is Shape.ORDER:
            for kind, value in keys:
                entries = self.sorted[kind]
                del entries[bisect_left(entries, (value, user_id))]
            return
        for key in keys:
            self.by_key[key].discard(user_id)

    def lookup(self, value: Any) -> Iterable[str] | None:
        """The ids of the members that may pass for a contact value; None: any member may."""
        shape = self.spec.shape
        if shape is Shape.ORDER:
            return self._ordered(value)
        if shape is Shape.MEMBER:
            if not isinstance(value, (list, tuple)):
                return ()  # `in` a value that is not a list: null for every user
            found: set[str] = set()
            for item in value:
                key = scalar_key(item)
                if key is not None:
                    found.update(self.by_key.get(key, ()))
                elif item is not None:  # a list or an object in the list: not looked up
                    return _ANY
            return found
        if value is None:
            return ()
        key = scalar_key(value)
        return _ANY if key is None else self.by_key.get(key, ())

    def _ordered(self, value: Any) -> Iterable[str] | None:
        if value is None:
            return ()
        kind = value_kind(value)
        if kind not in _ORDERED or value != value:
            return _ANY
        entries = self.sorted.get(kind, [])
        operator = self.spec.operator
        if operator in ("<", ">="):
            split = bisect_left(entries, value, key=_value_of)  # the first value >= the contact's
        else:
            split = bisect_right(entries, value, key=_value_of)  # the first value > the contact's
        chosen = entries[:split] if operator in ("<", "<=") else entries[split:]
        return [user_id for _, user_id in chosen]


def _value_of(entry: tuple[Any, str]) -> Any:
    return entry[0]
