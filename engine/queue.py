"""The queue of SPEC 4: order, deadlines, and classes that make drains cheap.

Queue order is priority descending, then `enqueued_at`, then arrival
sequence. Queued contacts are grouped into eligibility classes: same route
and same values of the contact fields its filters read, so same candidates.
A drain asks each class once whether it has a candidate, instead of asking
every contact; a class finds its first contact on a heap, and due deadlines
come off a heap, never from a scan.

The users a contact was released from (SPEC 4.1) are not part of the key
(a key per set of them made a class per released contact, and every drain
looked over all of them). A contact that only users it was released from
would take is set aside: the contacts after it in its class are still
tried. A contact that nobody would take, released or not, blocks its class.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime

# A class's key: its route's name, then the values of the contact fields the route's filters read.
ClassKey = tuple[Hashable, ...]


@dataclass(frozen=True)
class QueueEntry:
    contact: str
    route: str
    enqueued_at: datetime
    deadline: datetime
    priority: int
    sequence: int
    # Queue order, worked out once: heaps compare it many times.
    order: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "order", (-self.priority, self.enqueued_at, self.sequence))


@dataclass(eq=False)
class EligibilityClass:
    key: ClassKey
    entries: dict[str, QueueEntry] = field(default_factory=dict)  # by contact, set aside or not
    # (order, entry) of every entry not set aside, and of removed ones until they reach the top.
    heap: list[tuple[tuple, QueueEntry]] = field(default_factory=list)
    # Known to have no candidate; the engine clears it when that may change.
    blocked: bool = False
    # Entries whose class's candidates are all among the users their contact was released from;
    # the engine puts them back when a user they were not released from may have become one.
    set_aside: dict[str, QueueEntry] = field(default_factory=dict)

    @property
    def head(self) -> QueueEntry | None:
        """The class's first contact in queue order, of those not set aside."""
        heap, entries, set_aside = self.heap, self.entries, self.set_aside
        while heap and (entries.get(heap[0][1].contact) is not heap[0][1] or heap[0][1].contact in set_aside):
            heapq.heappop(heap)
        return heap[0][1] if heap else None

    def add(self, entry: QueueEntry) -> None:
        self.entries[entry.contact] = entry
        heapq.heappush(self.heap, (entry.order, entry))

    def remove(self, contact: str) -> None:
        del self.entries[contact]
        self.set_aside.pop(contact, None)
        if len(self.heap) > 2 * len(self.entries) + 16:  # mostly removed entries: start afresh
            self.heap = [(entry.order, entry) for entry in self.entries.values() if entry.contact not in self.set_aside]
            heapq.heapify(self.heap)

    def set_head_aside(self) -> None:
        """The head's contact cannot be placed, but others of the class may be."""
        _, entry = heapq.heappop(self.heap)  # `head` left it on top
        self.set_aside[entry.contact] = entry

    def put_back(self, contact: str) -> None:
        """A contact set aside may be placeable again."""
        entry = self.set_aside.pop(contact)
        heapq.heappush(self.heap, (entry.order, entry))

    def unblock(self) -> None:
        """Every contact of the class may be placeable again."""
        self.blocked = False
        for contact in list(self.set_aside):
            self.put_back(contact)


class Queue:
    def __init__(self) -> None:
        self.entries: dict[str, QueueEntry] = {}
        self.classes: dict[ClassKey, EligibilityClass] = {}
        self.class_of: dict[str, ClassKey] = {}
        self.deadlines: list[tuple[datetime, tuple, str, int]] = []
        self.next_sequence = 0

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, contact: str) -> bool:
        return contact in self.entries

    def add(self, entry: QueueEntry, class_key: ClassKey) -> None:
        self.entries[entry.contact] = entry
        self.class_of[entry.contact] = class_key
        klass = self.classes.get(class_key)
        if klass is None:
            klass = self.classes[class_key] = EligibilityClass(class_key)
        klass.add(entry)
        heapq.heappush(self.deadlines, (entry.deadline, entry.order, entry.contact, entry.sequence))
        self.next_sequence = max(self.next_sequence, entry.sequence + 1)

    def take_sequence(self) -> int:
        sequence = self.next_sequence
        self.next_sequence += 1
        return sequence

    def remove(self, contact: str) -> QueueEntry | None:
        entry = self.entries.pop(contact, None)
        if entry is None:
            return None
        klass = self.classes[self.class_of.pop(contact)]
        klass.remove(contact)
        if not klass.entries:
            del self.classes[klass.key]
        return entry  # its deadline stays in the heap and is skipped when due

    def in_order(self) -> list[QueueEntry]:
        return [entry for entry in sorted(self.entries.values(), key=lambda entry: entry.order)]

    def first_unblocked_class(self) -> EligibilityClass | None:
        """The class not known to be blocked whose first contact not set aside comes first in queue order."""
        first: EligibilityClass | None = None
        first_order: tuple = ()  # read only once `first` is set
        for klass in self.classes.values():
            if klass.blocked:
                continue
            head = klass.head
            if head is not None and (first is None or head.order < first_order):
                first, first_order = klass, head.order
        return first

    def pop_due(self, before: datetime, inclusive: bool) -> QueueEntry | None:
        """The next entry whose deadline is before (or at) `before`, in queue order on ties."""
        self._drop_stale_deadlines()
        if not self.deadlines:
            return None
        deadline = self.deadlines[0][0]
        if deadline > before or (deadline == before and not inclusive):
            return None
        _, _, contact, _ = heapq.heappop(self.deadlines)
        return self.remove(contact)

    def _drop_stale_deadlines(self) -> None:
        while self.deadlines:
            _, _, contact, sequence = self.deadlines[0]
            entry = self.entries.get(contact)
            if entry is not None and entry.sequence == sequence:
                return
            heapq.heappop(self.deadlines)
