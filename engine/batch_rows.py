"""The rows a batch pass writes (SPEC 5.1 columns): recorded as it decides, made into Arrow columns at the end.

A contact with a route is `queued` unless the pass says otherwise, and one with
none is `no_route`, so the pass records only the contacts it assigns (where,
and to whom), fails (where, and why) and unassigns. The columns are then a few
array operations (`take` from a short dictionary of texts), not a Python value
per contact turned into Arrow one by one.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pyarrow as pa

from . import decisions as d
from .roster import User

# Position of each outcome in the outcome column's dictionary; a contact without a route is NO_ROUTE.
OUTCOME_TEXTS = (d.NO_ROUTE, d.QUEUED, d.ASSIGNED, d.FAILED, d.UNASSIGNED)
NO_ROUTE_CODE, QUEUED_CODE, ASSIGNED_CODE, FAILED_CODE, UNASSIGNED_CODE = range(len(OUTCOME_TEXTS))


def arrow_indices(values: np.ndarray, nulls: np.ndarray | None = None) -> pa.Array:
    """A NumPy array of whole numbers as an Arrow integer array of the same width, sharing its memory; null
    where `nulls` is true. (`pa.array` would do, but it looks for NumPy's masked arrays, and importing those
    costs a batch 50 ms.)"""
    values = np.ascontiguousarray(values)
    validity = None if nulls is None or not nulls.any() else pa.py_buffer(np.packbits(~nulls, bitorder="little"))
    return pa.Array.from_buffers(pa.from_numpy_dtype(values.dtype), len(values), [validity, pa.py_buffer(values)])


def code_type(count: int) -> type[np.signedinteger]:
    """The narrowest signed whole type for codes 0 .. count - 1 (and -1): what Arrow takes as a dictionary's
    indices. A million codes of one byte are an eighth of the fresh memory of int64 ones, and on a virtual
    machine each fresh page is a fault that costs more than the work done on it."""
    return np.int8 if count <= 2**7 else np.int16 if count <= 2**15 else np.int32 if count <= 2**31 else np.int64


def taken(dictionary: list, codes: np.ndarray, arrow_type: pa.DataType, encoded: bool = False) -> pa.Array:
    """The column whose row i is `dictionary[codes[i]]` (None: null). `encoded`: as an Arrow dictionary
    array, the codes and the short dictionary as they are, which makes no value per row (a million
    texts taken one by one cost a batch 0.03 s a column, and a Parquet writer hashes them back)."""
    if not encoded:
        return pa.array(dictionary, arrow_type).take(arrow_indices(codes))
    # Arrow writers take no null in a dictionary: a null row is a null code instead (-1 until then).
    present = [code for code, value in enumerate(dictionary) if value is not None]
    renumbered = np.full(len(dictionary), -1, dtype=code_type(len(present)))
    renumbered[present] = np.arange(len(present))
    indices = renumbered[codes]
    nulls = indices < 0
    indices[nulls] = 0
    values = pa.array([dictionary[code] for code in present], arrow_type)
    return pa.DictionaryArray.from_arrays(arrow_indices(indices, nulls), values)


class PassRows:
    """What a pass decided for contacts other than queued ones, by position in the batch."""

    def __init__(self) -> None:
        self.assigned_at: list[int] = []
        self.assigned_to: list[User] = []
        self.failed_at: list[int] = []
        self.failed_why: list[str] = []
        self.unassigned_at: list[int] = []
        # Runs assigned at once: their positions, and their users as places in `users_in_bulk`.
        self.assigned_in_bulk: list[tuple[np.ndarray, np.ndarray]] = []
        self.users_in_bulk: list[User] = []

    def fail(self, position: int, why: str) -> None:
        self.failed_at.append(position)
        self.failed_why.append(why)

    def fail_all(self, positions: np.ndarray, why: str) -> None:
        self.failed_at.extend(positions.tolist())
        self.failed_why.extend([why] * len(positions))

    def assign_all(self, positions: np.ndarray, places: np.ndarray, users: list[User]) -> None:
        """The contacts at `positions` are assigned to `users[places]` (always the same `users`)."""
        self.users_in_bulk = users
        self.assigned_in_bulk.append((positions, places))

    def outcome_codes(self, route_index: np.ndarray) -> np.ndarray:
        """Each contact's outcome, as its place in OUTCOME_TEXTS."""
        codes = np.full(len(route_index), QUEUED_CODE, dtype=code_type(len(OUTCOME_TEXTS)))
        codes[route_index < 0] = NO_ROUTE_CODE
        codes[self.assigned_at] = ASSIGNED_CODE
        for positions, _ in self.assigned_in_bulk:
            codes[positions] = ASSIGNED_CODE
        codes[self.failed_at] = FAILED_CODE
        codes[self.unassigned_at] = UNASSIGNED_CODE
        return codes

    def columns(
        self,
        route_index: np.ndarray,
        route_names: list[str],
        assigned_reasons: list[str],
        deadlines: list[datetime | None],
        encoded: bool = False,
    ) -> dict[str, pa.Array]:
        """The route, outcome, user, reason and deadline columns. Route r (r = route_index[i], -1 for none)
        is called route_names[r], assigns with reason assigned_reasons[r] and queues until deadlines[r].
        `encoded`: the text columns as dictionary arrays (`taken`)."""
        # Every code column in its narrowest type (code_type), made without an int64 one in between.
        no_route = len(route_names)
        by_route = route_index.astype(code_type(no_route + 1))
        by_route[by_route < 0] = no_route
        outcomes = self.outcome_codes(route_index)
        # Each user's id once, so that an encoded column's dictionary holds no id twice.
        code_of: dict[str, int] = {}
        bulk_codes = np.array([code_of.setdefault(user.id, len(code_of)) for user in self.users_in_bulk], np.int64)
        one_by_one_codes = [code_of.setdefault(user.id, len(code_of)) for user in self.assigned_to]
        user_ids = [*code_of, None]
        user_of = np.full(len(route_index), len(user_ids) - 1, dtype=code_type(len(user_ids)))  # the last id: null
        user_of[self.assigned_at] = one_by_one_codes
        for positions, places in self.assigned_in_bulk:
            user_of[positions] = bulk_codes[places]
        reasons = sorted(set(assigned_reasons) | set(self.failed_why))
        reason_code = {reason: code for code, reason in enumerate(reasons)}
        reason_type = code_type(len(reasons) + 1)
        reason_of = np.full(len(route_index), len(reasons), dtype=reason_type)  # the last reason: null
        assigned_reason = np.array([reason_code[reason] for reason in assigned_reasons] + [len(reasons)], reason_type)
        runs: list[list[int] | np.ndarray] = [self.assigned_at, *(run for run, _ in self.assigned_in_bulk)]
        for assigned in runs:
            reason_of[assigned] = assigned_reason[by_route[assigned]]
        reason_of[self.failed_at] = [reason_code[why] for why in self.failed_why]
        return {
            "route": taken(route_names + [None], by_route, pa.string(), encoded),
            "outcome": taken(list(OUTCOME_TEXTS), outcomes, pa.string(), encoded),
            "user": taken(user_ids, user_of, pa.string(), encoded),
            "reason": taken(reasons + [None], reason_of, pa.string(), encoded),
            "deadline": taken(
                deadlines + [None], np.where(outcomes == QUEUED_CODE, by_route, no_route), pa.timestamp("us")
            ),
        }
