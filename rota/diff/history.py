"""The history both policies run on: an event log (replayed in memory) or a batch of contacts.

Each run starts from a fresh roster of the same snapshot (`start()`), so the two
runs share nothing but their input. A replay is recorded as rota.explain records it, so
that explaining one of its decisions replays only up to that decision.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from rota.dsl import Policy
from rota.engine import (
    CompiledPolicy,
    Contact,
    Decision,
    Event,
    Roster,
    compile_policy,
    event_from_record,
    parse_instant,
    run_batch,
)
from rota.engine.history import engine_from_state, run_inputs
from rota.engine.replay import EventError
from rota.explain import Explanation, explain_batch, explain_recorded, record_run
from rota.explain.run import CallRecorder, RecordedRun, Watcher, explain_again, recorded_from, watched
from rota.export_folder import read_export
from rota.vocabulary import ContactField, EventType, HistoryEventType, Status, UserField

RosterFactory = Callable[[], Roster]
NO_ROUTES = compile_policy(Policy(routes=()))


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

    def online_at_some_point(self, roster: Roster) -> set[str]:
        return online_at_some_point(roster, self._applied())

    def joined(self) -> list[tuple[str, str]]:
        return joined(self._applied())

    def _applied(self) -> list[Event]:
        return [event for event in self.events if self.until is None or event.at <= self.until]


@dataclass(frozen=True)
class ExportHistory:
    """A folder `rota export` wrote: the service's state at the window's start (its users, teams, cursors
    and the contacts it held or queued), then its events up to `until`. The folder's `policy` lines are
    passed by: each side of the diff runs its own policy through the whole window."""

    state: Mapping[str, Any]
    events: Sequence[Event]
    until: datetime

    @classmethod
    def read(cls, directory: str | Path, until: datetime | None = None) -> ExportHistory:
        """The folder read whole (StorageError or EventError name what cannot be used); `until` defaults to
        the window's end."""
        folder = read_export(Path(directory))
        events = []
        for record in folder.events:
            if record.get("type") == HistoryEventType.POLICY:
                continue
            try:
                events.append(event_from_record(record))
            except ValueError as error:
                raise EventError(f"{folder.events_path}:{record['_line']}: {error}") from None
        end = until or parse_instant(folder.manifest["until"])
        return cls(folder.state, [event for event in sorted(events, key=lambda e: e.at) if event.at <= end], end)

    def start(self) -> Roster:
        # An engine is built to read its roster: any policy will do, as none of it runs.
        return engine_from_state(self.state, NO_ROUTES).roster

    def run(self, policy: CompiledPolicy) -> RecordedRun:
        """The window as `rota replay --export` runs it, under `policy` throughout."""
        recorder = CallRecorder()
        return recorded_from(self._run(policy, recorder), recorder)

    def explain(self, policy: CompiledPolicy, run: RecordedRun, positions: Collection[int]) -> list[Explanation]:
        """The decisions at `positions` explained, by running the window again from the saved state."""
        return explain_again(lambda explainer: self._run(policy, explainer), policy, run, positions)

    def _run(self, policy: CompiledPolicy, watcher: Watcher) -> list[Decision]:
        engine = watched(engine_from_state(self.state, policy), watcher)
        return run_inputs(engine, self.events, lambda _: policy) + engine.advance(self.until)

    def online_at_some_point(self, roster: Roster) -> set[str]:
        return online_at_some_point(roster, self.events)

    def joined(self) -> list[tuple[str, str]]:
        return joined(self.events)


def online_at_some_point(roster: Roster, events: Iterable[Event]) -> set[str]:
    """Users online at the start (in `roster`) or made online by a `status` or `user` event."""
    online = {user.id for user in roster.users.values() if user.status == Status.ONLINE}
    for event in events:
        status = event.status if event.type == EventType.STATUS else event.attrs.get(UserField.STATUS.value)
        if event.type in (EventType.STATUS, EventType.USER) and status == Status.ONLINE and event.user:
            online.add(event.user)
    return online


def joined(events: Iterable[Event]) -> list[tuple[str, str]]:
    """(team, user) of every `join` event."""
    return [(event.team, event.user) for event in events if event.type == EventType.JOIN and event.team and event.user]


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
        return online_at_some_point(roster, ())

    def joined(self) -> list[tuple[str, str]]:
        return []


History = EventHistory | BatchHistory | ExportHistory
