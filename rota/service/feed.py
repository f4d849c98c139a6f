"""Committed decisions in sequence order, for the readers that follow the log (the stream, the webhook).

The writer thread publishes each commit's decision rows once they are durable;
the newest few thousand stay in memory, older ones are read back from the
engine file. So a reader never sees a decision that a crash could take back,
a reader far behind costs no memory, and publishing never waits for a reader.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from rota.engine import format_instant
from rota.storage.engine_store import DECISION_COLUMNS

KEPT_IN_MEMORY = 8192


def decision_json(row: dict[str, Any]) -> dict[str, Any]:
    """A decision row as every endpoint answers it: its times in ISO 8601 (UTC)."""
    return {**row, "at": format_instant(row["at"]), "deadline": format_instant(row["deadline"])}


def row_json(row: tuple) -> dict[str, Any]:
    return decision_json(dict(zip(DECISION_COLUMNS, row)))


class DecisionFeed:
    """Durable decision rows (tuples in `DECISION_COLUMNS` order, `seq` first) as they are committed."""

    def __init__(self, read_stored: Callable[[int, int], list[tuple]], last_seq: int, keep: int = KEPT_IN_MEMORY):
        self._read_stored = read_stored  # (after, limit) -> rows from the engine file
        self._recent: deque[tuple] = deque(maxlen=keep)
        self._published = threading.Condition()
        self._listeners: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self.last_seq = last_seq  # of the newest durable decision; -1 before the first

    def publish(self, rows: list[tuple]) -> None:
        """The writer thread, after a commit: never blocks on a reader."""
        if not rows:
            return
        with self._published:
            self._recent.extend(rows)
            self.last_seq = rows[-1][0]
            self._published.notify_all()
        self.wake_listeners()

    def wake_listeners(self) -> None:
        with self._published:
            listeners = list(self._listeners)
        for loop, event in listeners:
            loop.call_soon_threadsafe(event.set)

    def after(self, seq: int, limit: int) -> list[tuple]:
        """Up to `limit` rows after sequence number `seq`: from memory when it holds them, else from the file."""
        recent = self.recent_after(seq, limit)
        return self.stored_after(seq, limit) if recent is None else recent

    def recent_after(self, seq: int, limit: int) -> list[tuple] | None:
        """As `after`, from memory only (never blocks): None when the rows are only in the file."""
        with self._published:
            if seq >= self.last_seq:
                return []
            recent = self._recent
            if not recent or recent[0][0] > seq + 1:
                return None
            start = seq + 1 - recent[0][0]  # sequence numbers are consecutive
            return list(itertools.islice(recent, start, start + limit))

    def stored_after(self, seq: int, limit: int) -> list[tuple]:
        """As `after`, from the engine file (a query: off the event loop); only what was published, since a
        commit that failed may have left its rows in the store's memory."""
        last = self.last_seq
        return [row for row in self._read_stored(seq, limit) if row[0] <= last]

    def wait(self, seq: int, timeout: float) -> None:
        """Until a decision after `seq` is durable, or `timeout` seconds (a thread that follows the log)."""
        with self._published:
            if self.last_seq <= seq:
                self._published.wait(timeout)

    def wake_all(self) -> None:
        with self._published:
            self._published.notify_all()

    def listen(self) -> asyncio.Event:
        """An event set on the running loop after every commit (a stream's client); `forget` it at the end."""
        event = asyncio.Event()
        with self._published:
            self._listeners.add((asyncio.get_running_loop(), event))
        return event

    def forget(self, event: asyncio.Event) -> None:
        with self._published:
            self._listeners = {(loop, known) for loop, known in self._listeners if known is not event}
