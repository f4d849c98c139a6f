"""The history both policies run on: an event log (replayed in memory) or a batch of contacts.

Each run starts from a fresh roster of the same snapshot (`start()`), so the two
runs share nothing but their input. A replay is recorded as rota.explain records it, so
that explaining one of its decisions replays only up to that decision.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

import duckdb
import pyarrow as pa

from rota.engine import CompiledPolicy, Contact, Decision, Event, Roster, run_batch
from rota.explain import Explanation, explain_batch, explain_recorded, record_run
from rota.explain.run import RecordedRun
from rota.vocabulary import ContactField, EventType, Status, UserField

RosterFactory = Callable[[], Roster]


@dataclass(frozen=True)
class EventHistory:
    """An event log, sorted by time, run from `start()`'s roster up to `until` (None: the last event's time)."""

    start: RosterFactory
    events: Sequence[Event]
    until: datetime | None = None

    def run(self, policy: CompiledPolicy) -> RecordedRun:
        """Replayed in memory as `rota replay` does, and recorded for `explain`."""
        return record_run(policy, self.start(), self.events, self.until)

    def explain(self, policy: CompiledPolicy, run: RecordedRun, positions: Collection[int]) -> list[Explanation]:
        """The decisions at `positions` of `run` explained, in order (the run replayed up to the last)."""
        return explain_recorded(policy, self.start(), self.events, run, positions, until=self.until)

    def applied(self) -> list[Event]:
        return [event for event in self.events if self.until is None or event.at <= self.until]

    def online_at_some_point(self, roster: Roster) -> set[str]:
        """Users online at the start (in `roster`) or made online by a `status` or `user` event."""
        online = {user.id for user in roster.users.values() if user.status == Status.ONLINE}
        for event in self.applied():
            status = event.status if event.type == EventType.STATUS else event.attrs.get(UserField.STATUS.value)
            if event.type in (EventType.STATUS, EventType.USER) and status == Status.ONLINE and event.user:
                online.add(event.user)
        return online

    def joined(self) -> list[tuple[str, str]]:
        """(team, user) of every `join` event applied."""
        return [
            (event.team, event.user)
            for event in self.applied()
            if event.type == EventType.JOIN and event.team and event.user
        ]


@dataclass(frozen=True)
class BatchHistory:
    """A batch of contacts routed in one pass at `now` against the snapshot in `connection` (its roster `start()`)."""

    start: RosterFactory
    connection: duckdb.DuckDBPyConnection
    contacts: pa.Table
    now: datetime

    def run(self, policy: CompiledPolicy) -> RecordedRun:
        """One decision per contact, in input order, each at `now` (no time passes in a batch)."""
        table = run_batch(policy, self.connection, self.start(), self.contacts, self.now)
        return RecordedRun([Decision(**row, at=self.now) for row in table.to_pylist()])

    def explain(self, policy: CompiledPolicy, run: RecordedRun, positions: Collection[int]) -> list[Explanation]:
        """The decisions at `positions` (one per contact, in input order) explained, in order."""
        wanted = {run.decisions[position].contact for position in positions}
        contacts = self._contacts()
        return explain_batch(policy, self.start(), contacts, self.now, lambda decision: decision.contact in wanted)

    def _contacts(self) -> list[Contact]:
        identity = (ContactField.ID.value, ContactField.ASSIGNEE.value)
        return [
            Contact(row[identity[0]], row[identity[1]], {k: v for k, v in row.items() if k not in identity})
            for row in self.contacts.to_pylist()
        ]

    def online_at_some_point(self, roster: Roster) -> set[str]:
        return {user.id for user in roster.users.values() if user.status == Status.ONLINE}

    def joined(self) -> list[tuple[str, str]]:
        return []


History = EventHistory | BatchHistory
