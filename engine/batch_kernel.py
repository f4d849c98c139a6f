"""The batch's ordered pass, compiled (engine/_kernel.c), for the contacts it covers.

Covered: a contact nobody holds whose route is a user route (its target is
known before the pass, batch_targets.py) or a team/space route whose only
per-pick checks are caps (a candidate set's own `open_below`). The kernel
makes SPEC 3.4's choice over the pass's own candidate sets exactly as
candidates.py does: a least-open set's heap is the same list of packed keys,
and round-robin goes on after the pool's shared cursor. The other contacts
(held ones, whose previous assignee may lose a count; unassign; per-pick
`accept`s; checks that read the contact; failing plans) keep the Python
pass. The pass hands the state over at each switch: the kernel writes back
the users it gave contacts to, the cursors and the round-robin sets' flags
it moved (`_leave`), and reads again the users the Python run changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from types import ModuleType

import numpy as np

from .batch_rows import PassRows
from .batch_targets import FAILURE_OF_CODE, Targets
from .candidates import LeastOpenSet, RoundRobinSet
from .choice import PassKeys
from .roster import Change, Roster

kernel: ModuleType | None
try:
    from . import _kernel as kernel
except ImportError:  # not built: every pass is Python's (tests/test_batch_kernel.py fails in CI so)
    kernel = None

KEY_LIMIT = 2**62  # every key (and cap) the kernel reads stays below this, so int64 arithmetic is exact


class KernelPass:
    """The kernel over one pass's state; `run` the covered contacts, `handed_over` for the Python runs between."""

    def __init__(self, compiled, roster: Roster, keys: PassKeys, outputs: list[np.ndarray]):
        self.compiled, self.roster, self.keys = compiled, roster, keys
        self.outputs = outputs  # where the kernel writes: assigned positions and places, failed positions and codes
        self.inside = False  # whether the kernel holds the state (entered and not left)

    @classmethod
    def of(
        cls, roster: Roster, keys: PassKeys, sets: list, in_kernel: np.ndarray, targets: Targets, set_of, now: datetime
    ) -> KernelPass | None:
        """The kernel for a pass over `sets` (those flagged `in_kernel` are the kernel's); None when it is not
        built or cannot be exact here (counts that could pass 64 bits, members not in id order)."""
        if kernel is None or not _fits(keys, len(set_of)):
            return None
        pool_keys: list[str] = sorted({s.pool_key for s, covered in zip(sets, in_kernel) if covered and _rotates(s)})
        specs = [_spec(s, keys, pool_keys) if covered else None for s, covered in zip(sets, in_kernel)]
        if any(spec is False for spec in specs):
            return None
        outputs = [np.empty(len(set_of), dtype=np.int64) for _ in range(4)]
        position, place, failed, code = outputs
        compiled = kernel.Pass(
            users=keys.ranked,
            ids=[user.id for user in keys.ranked],
            rank_of=keys.rank_of,
            now=now,
            span=keys.order_span,
            set_of=np.ascontiguousarray(set_of, dtype=np.int64),
            place=np.ascontiguousarray(targets.place, dtype=np.int64),
            sets=specs,
            pool_keys=pool_keys,
            cursors=roster.cursors,
            out_position=position,
            out_place=place,
            out_failed=failed,
            out_code=code,
        )
        return cls(compiled, roster, keys, outputs)

    def run(self, positions: np.ndarray) -> None:
        """Assign the covered contacts at `positions`, in order."""
        self._enter()
        self.compiled.run(np.ascontiguousarray(positions, dtype=np.int64))

    @contextmanager
    def handed_over(self, rows: PassRows) -> Iterator[None]:
        """For a Python run of the pass: the roster up to date before it, and what it changed read back after."""
        self._leave()
        assigned, journalled = len(rows.assigned_to), self.roster.journal.end
        yield
        entries = self.roster.journal.since(journalled)
        rank_of = self.keys.rank_of
        if entries is None:  # too far behind to know whom: everyone
            ranks = list(range(len(self.keys.ranked)))
        else:
            ranks = [rank_of[user.id] for user in rows.assigned_to[assigned:]]
            ranks += [rank_of[user_id] for change, user_id in entries if change is Change.COUNT_FELL]
        self.compiled.load(np.array(ranks, dtype=np.int64))

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


def _rotates(candidate_set) -> bool:
    return isinstance(candidate_set, RoundRobinSet)


def _spec(candidate_set, keys: PassKeys, pool_keys: list[str]):
    """How the kernel sees a set; False when it cannot (members out of id order)."""
    if isinstance(candidate_set, LeastOpenSet):
        bound = candidate_set.bound
        return (
            kernel.LEAST_OPEN,
            candidate_set.heap.heap,
            None if bound is None or bound >= KEY_LIMIT else max(bound, 0),
        )
    assert isinstance(candidate_set, RoundRobinSet)
    ranks = np.array([keys.rank_of[user_id] for user_id in candidate_set.ids], dtype=np.int64)
    if len(ranks) > 1 and not (np.diff(ranks) > 0).all():
        return False
    below = candidate_set.open_below
    below = None if below is None else min(max(below, 0), KEY_LIMIT)
    return kernel.ROUND_ROBIN, candidate_set, ranks, below, pool_keys.index(candidate_set.pool_key)


def _fits(keys: PassKeys, contacts: int) -> bool:
    """Whether every key the pass can reach is below KEY_LIMIT, and none below zero."""
    opens = [user.open for user in keys.ranked]
    if not opens:
        return True
    if min(opens) < 0 or min(user.assigned_order for user in keys.ranked) < -1:
        return False
    return ((max(opens) + contacts + 1) * keys.order_span + keys.order_span) * len(opens) < KEY_LIMIT
