"""Whom each contact of a batch's user routes goes to (SPEC 3.2), found for all of them at once.

No user is made or deleted during a pass, so a contact's target is known
before it starts: a place among the pass's users (`PassKeys.ranked`), or a
code saying why there is none. A text column of ids (`assign to user
contact.last_agent` over a text column, the usual sticky route) is matched
by Arrow in one step; any other target is worked out value by value.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import decisions as d
from .choice import PassKeys
from .roster import User, as_user_id

NOT_FOUND, DELETED = -1, -2
FAILURE_OF_CODE = {NOT_FOUND: d.USER_NOT_FOUND, DELETED: d.USER_DELETED}


class Targets:
    """`place[position]`: the contact's user, as its place in `users`, or NOT_FOUND / DELETED."""

    def __init__(self, keys: PassKeys, count: int, named: bool = True):
        """`named`: whether any contact will be named (a policy with a user route). Without, `place` is
        never read (the compiled pass only needs it of the contacts' length), and is left unwritten: a
        million entries are 8 MB of fresh pages, each a fault on a virtual machine."""
        self.users, self.rank_of = keys.ranked, keys.rank_of
        self.place = np.full(count, NOT_FOUND, dtype=np.int64) if named else np.empty(count, dtype=np.int64)
        self._deleted = np.array([user.deleted for user in self.users] + [False], dtype=bool)  # + NOT_FOUND's

    def name_by_ids(self, positions: np.ndarray, ids: pa.Array | pa.ChunkedArray) -> None:
        """The contacts at `positions` go to the users whose ids are `ids` (text, null for none)."""
        value_set = pa.array([user.id for user in self.users], pa.string())
        places = pc.index_in(ids, value_set=value_set).fill_null(NOT_FOUND)
        self._name(positions, places.to_numpy(zero_copy_only=False).astype(np.int64))

    def name_by_values(self, positions: np.ndarray, values: Iterable[Any]) -> None:
        """As `name_by_ids`, for values of any kind: a whole number names the user with that id too."""
        rank_of = self.rank_of
        places = []
        for value in values:
            user_id = as_user_id(value)
            places.append(NOT_FOUND if user_id is None else rank_of.get(user_id, NOT_FOUND))
        self._name(positions, np.array(places, dtype=np.int64))

    def _name(self, positions: np.ndarray, places: np.ndarray) -> None:
        self.place[positions] = np.where(self._deleted[places], DELETED, places)

    def of(self, position: int) -> User | str:
        """The contact's user, or why it fails."""
        place = int(self.place[position])
        return self.users[place] if place >= 0 else FAILURE_OF_CODE[place]
