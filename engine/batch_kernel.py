"""The batch's ordered pass, compiled (engine/_kernel.c), for the contacts it covers.

Covered: a contact whose route is a user route (its target is known before
the pass, batch_targets.py) or a team/space route whose only per-pick checks
are caps (a closable candidate set, with its own `open_below`), held by
somebody or not. The kernel makes SPEC 3.4's choice over those sets exactly
as candidates.py does, and gives as `Roster.give_unjournalled` does (a count
taken from the previous assignee is journalled, and the sets holding it are
told). The other contacts (unassign routes; per-pick `accept`s; checks that
read the contact; failing plans) keep the Python pass, which never touches
the kernel's sets. At each switch the state is handed over: the kernel
writes back the users it changed and the cursors it moved (sets outside it
share a pool's cursor); after the Python run it reads again the users that
run changed, and hears of the counts that fell.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import partial

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .batch_rows import PassRows
from .batch_targets import FAILURE_OF_CODE, Targets
from .candidates import FallenCounts, LeastOpenSet, RoundRobinSet
from .choice import PassKeys
from .roster import COUNT_FELL, Roster

try:
    from . import _kernel as kernel
except ImportError:  # not built: every pass is Python's (tests/test_batch_kernel.py fails so in CI)
    kernel = None

KEY_LIMIT = 2**62  # every key and cap the kernel reads is below this, so its int64 arithmetic is exact


class KernelPass:
    """The kernel over one pass: `run` the covered contacts, `handed_over` around the Python runs between."""

    def __init__(self, compiled, roster: Roster, keys: PassKeys, fallen: FallenCounts, outputs: list[np.ndarray]):
        self.compiled, self.roster, self.keys, self.fallen = compiled, roster, keys, fallen
        self.outputs = outputs  # where the kernel writes: assigned positions and places, failed positions and codes
        self.inside = False  # whether the kernel holds the state (entered, not left)

    @classmethod
    def of(
        cls,
        roster: Roster,
        keys: PassKeys,
        fallen: FallenCounts,
        sets: list,
        in_kernel: np.ndarray,
        set_of: np.ndarray,
        targets: Targets,
        assignees: pa.ChunkedArray,
        now: datetime,
        can_fall: bool,
    ) -> KernelPass | None:
        """The kernel for a pass over `sets`, those flagged `in_kernel` its own; None when it is not built
        or could not be exact (keys past 64 bits, a round-robin set's members out of id order). Unless a
        count `can_fall` in the pass, the kernel needs not know which sets hold whom."""
        if kernel is None or not _fits(keys, len(set_of)):
            return None
        pool_keys = sorted({s.pool_key for s, ours in zip(sets, in_kernel) if ours and isinstance(s, RoundRobinSet)})
        specs = [_spec(s, keys, pool_keys) if ours else None for s, ours in zip(sets, in_kernel)]
        if any(spec is False for spec in specs):
            return None
        members = [_members(spec, len(keys.ranked)) if isinstance(spec, tuple) else None for spec in specs]
        starts, held_in = _sets_of_user(members if can_fall else [], len(keys.ranked))
        outputs = [np.empty(len(set_of), dtype=np.int64) for _ in range(4)]
        position, place, failed, code = outputs
        compiled = kernel.Pass(
            users=keys.ranked,
            ids=[user.id for user in keys.ranked],
            rank_of=keys.rank_of,
            now=now,
            span=keys.order_span,
            next_order=roster.next_order,
            set_of=np.ascontiguousarray(set_of, dtype=np.int64),
            place=np.ascontiguousarray(targets.place, dtype=np.int64),
            previous=_previous_ranks(assignees, keys),
            sets=specs,
            sets_of_user_start=starts,
            sets_of_user=held_in,
            pool_keys=pool_keys,
            cursors=roster.cursors,
            record_fall=partial(roster.journal.record, COUNT_FELL),
            out_position=position,
            out_place=place,
            out_failed=failed,
            out_code=code,
        )
        return cls(compiled, roster, keys, fallen, outputs)

    def run(self, positions: np.ndarray) -> None:
        """Assign the covered contacts at `positions`, in order."""
        self._enter()
        self.compiled.run(np.ascontiguousarray(positions, dtype=np.int64))

    @contextmanager
    def handed_over(self, rows: PassRows) -> Iterator[None]:
        """For a Python run of the pass: the roster up to date before it (and the sets outside the kernel told
        of the counts that fell), what it changed read back after."""
        self._leave()
        self.fallen.catch_up()
        assigned, journalled = len(rows.assigned_to), self.roster.journal.end
        yield
        entries = self.roster.journal.since(journalled)
        rank_of = self.keys.rank_of
        if entries is None:  # too far behind to know whom: as if every count fell
            given, fell = [], list(range(len(self.keys.ranked)))
        else:
            given = [rank_of[user.id] for user in rows.assigned_to[assigned:]]
            fell = sorted({rank_of[user_id] for change, user_id in entries if change is COUNT_FELL})
        self.compiled.load(np.array(given + fell, dtype=np.int64))
        self.compiled.fell(np.array(fell, dtype=np.int64))

    def exhausted(self, set_count: int) -> np.ndarray:
        """`CandidateSet.exhausted` of each of the kernel's sets (False for the others), then False for -1."""
        self._enter()
        flags = np.zeros(set_count + 1, dtype=np.uint8)
        self.compiled.exhausted(flags)
        return flags.astype(bool)

    def finish(self, rows: PassRows) -> None:
        """The roster as the pass left it, and the kernel's decisions added to `rows`."""
        self._leave()
        assigned, failed = self.compiled.counts()
        position, place, failed_at, code = self.outputs
        rows.assign_all(position[:assigned], place[:assigned], self.keys.ranked)
        failed_at, code = failed_at[:failed], code[:failed]
        for failure, why in FAILURE_OF_CODE.items():
            rows.fail_all(failed_at[code == failure], why)

    def _enter(self) -> None:
        if not self.inside:
            self.compiled.enter(self.roster.next_order)
            self.inside = True

    def _leave(self) -> None:
        if self.inside:
            self.roster.next_order = self.compiled.leave()
            self.inside = False


def _spec(candidate_set, keys: PassKeys, pool_keys: list[str]) -> tuple | bool:
    """How the kernel sees a set; False when it cannot (members out of id order)."""
    if isinstance(candidate_set, LeastOpenSet):
        bound = candidate_set.bound
        heap = np.array(candidate_set.heap.heap, dtype=np.int64)
        return kernel.LEAST_OPEN, heap, None if bound is None or bound >= KEY_LIMIT else max(bound, 0)
    assert isinstance(candidate_set, RoundRobinSet)
    ranks = np.array([keys.rank_of[user_id] for user_id in candidate_set.ids], dtype=np.int64)
    if (np.diff(ranks) <= 0).any():
        return False
    below = candidate_set.open_below
    return (
        kernel.ROUND_ROBIN,
        ranks,
        None if below is None else min(max(below, 0), KEY_LIMIT),
        pool_keys.index(candidate_set.pool_key),
    )


def _members(spec: tuple, users: int) -> np.ndarray:
    """The ranks of a set's users: a round-robin set's, or those of a least-open heap's keys (one a user)."""
    return spec[1] % users if spec[0] == kernel.LEAST_OPEN else spec[1]


def _sets_of_user(members: list[np.ndarray | None], users: int) -> tuple[np.ndarray, np.ndarray]:
    """Which of the kernel's sets hold each user (the kernel's `FallenCounts.sets_of_user`), by rank: offsets
    (one more than the users) into the sets' numbers."""
    held = [ranks for ranks in members if ranks is not None]
    ranks = np.concatenate(held) if held else np.zeros(0, dtype=np.int64)
    numbers = np.concatenate(
        [np.full(len(r), number, dtype=np.int64) for number, r in enumerate(members) if r is not None] or [ranks]
    )
    starts = np.zeros(users + 1, dtype=np.int64)
    np.cumsum(np.bincount(ranks, minlength=users), out=starts[1:])
    return starts, numbers[np.argsort(ranks, kind="stable")]


def _previous_ranks(assignees: pa.ChunkedArray, keys: PassKeys) -> np.ndarray:
    """Each contact's assignee as a rank; NOBODY for none, NOT_A_USER for an id no user has."""
    if assignees.null_count == len(assignees):
        return np.full(len(assignees), kernel.NOBODY, dtype=np.int64)
    value_set = pa.array([user.id for user in keys.ranked], pa.string())
    if assignees.type == pa.string():
        ranks = pc.index_in(assignees, value_set=value_set).fill_null(kernel.NOT_A_USER)
        previous = ranks.to_numpy(zero_copy_only=False).astype(np.int64)
    else:  # only text names a user (`Roster.take_away` looks an assignee up as it is)
        rank_of = keys.rank_of
        previous = np.array(
            [
                rank_of.get(value, kernel.NOT_A_USER) if isinstance(value, str) else kernel.NOT_A_USER
                for value in assignees.to_pylist()
            ],
            dtype=np.int64,
        )
    previous[~assignees.is_valid().to_numpy(zero_copy_only=False)] = kernel.NOBODY
    return previous


def _fits(keys: PassKeys, contacts: int) -> bool:
    """Whether every key the pass can reach is below KEY_LIMIT, and none below zero."""
    if not keys.ranked:
        return True
    opens = [user.open for user in keys.ranked]
    if min(opens) < 0 or min(user.assigned_order for user in keys.ranked) < -1:
        return False
    return (max(opens) + contacts + 1) * keys.order_span * len(opens) < KEY_LIMIT
