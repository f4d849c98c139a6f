"""The jobs behind the command line, usable from Python as they are."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pyarrow as pa

from rota.dsl import PolicyError, SnapshotSchema, analyze
from rota.engine import CompiledPolicy, compile_policy, load_roster, run_batch, snapshot_schema
from rota.storage import Snapshot, Warn, load_snapshot, read_contacts, read_events, write_table

Progress = Callable[[int, int], None]


def load_snapshot_warning(snapshot_dir: str | Path, warn: Warn | None = None) -> Snapshot:
    """The snapshot, its warnings (README "The snapshot") handed to `warn` as soon as it is loaded."""
    snapshot = load_snapshot(snapshot_dir)
    for warning in snapshot.warnings if warn is not None else ():
        warn(warning)
    return snapshot


def read_policy_text(path: str | Path) -> str:
    """The policy's text; an unreadable file is an input error (OSError)."""
    return Path(path).read_text(encoding="utf-8")


def compile_policy_file(path: str | Path, schema: SnapshotSchema | None = None) -> CompiledPolicy:
    """Parse, check and compile; PolicyError carries every diagnostic."""
    text = read_policy_text(path)
    policy, diagnostics = analyze(text, str(path), schema)
    if policy is None:
        raise PolicyError([d for d in diagnostics if d.is_error], {str(path): text})
    return compile_policy(policy)


@dataclass
class BatchSummary:
    contacts: int
    seconds: float
    outcomes: Counter = field(default_factory=Counter)
    routes: Counter = field(default_factory=Counter)
    busiest_users: list[tuple[str, int]] = field(default_factory=list)

    @classmethod
    def of(cls, table: pa.Table, seconds: float) -> BatchSummary:
        outcomes = Counter(dict(_value_counts(table.column("outcome"))))
        routes = Counter(dict(_value_counts(table.column("route"))))
        assigned_users = Counter(dict(_value_counts(table.column("user"))))
        return cls(table.num_rows, seconds, outcomes, routes, assigned_users.most_common(5))


def _value_counts(column: pa.ChunkedArray) -> list[tuple[str, int]]:
    counts = column.value_counts().to_pylist()
    return [(entry["values"], entry["counts"]) for entry in counts if entry["values"] is not None]


def batch_file(
    policy_path: str | Path,
    snapshot_dir: str | Path,
    contacts_path: str | Path,
    out_path: str | Path,
    now: datetime,
    progress: Progress | None = None,
    warn: Warn | None = None,
) -> BatchSummary:
    """`rota batch`: check the policy against the snapshot, route, write the rows."""
    started = time.perf_counter()
    snapshot = load_snapshot_warning(snapshot_dir, warn)
    policy = compile_policy_file(policy_path, snapshot_schema(snapshot.connection))
    contacts = read_contacts(contacts_path)
    roster = load_roster(snapshot.connection)
    table = run_batch(policy, snapshot.connection, roster, contacts, now, progress)
    write_table(table, out_path)
    return BatchSummary.of(table, time.perf_counter() - started)


@dataclass
class ReplaySummary:
    events: int
    decisions: int
    seconds: float
    outcomes: Counter = field(default_factory=Counter)
    waits: list[float] = field(default_factory=list)  # seconds from queued to assigned
    busiest_users: list[tuple[str, int]] = field(default_factory=list)


def replay_file(
    policy_path: str | Path,
    snapshot_dir: str | Path,
    events_path: str | Path,
    out_path: str | Path,
    until: datetime | None = None,
    progress: Progress | None = None,
    database: str | Path | None = None,
    warn: Warn | None = None,
) -> ReplaySummary:
    """`rota replay`: run an event log through the engine; JSON lines out, in decision order.

    With `database`, the engine lives in that DuckDB file: decisions are written
    out only once committed, and a run stopped at any point resumes where it was."""
    from rota.engine import DurableEngine, Engine
    from rota.engine.replay import replay_durable, replay_events

    started = time.perf_counter()
    snapshot = load_snapshot_warning(snapshot_dir, warn)
    policy = compile_policy_file(policy_path, snapshot_schema(snapshot.connection))
    records = read_events(events_path)
    if database is None:
        engine = Engine(policy, load_roster(snapshot.connection))
        decisions, event_count = replay_events(engine, records, events_path, out_path, until, progress)
    else:
        durable = DurableEngine.open(
            database, read_policy_text(policy_path), load_roster(snapshot.connection), str(policy_path)
        )
        try:
            decisions, event_count = replay_durable(durable, records, events_path, out_path, until, progress=progress)
        finally:
            durable.close()
    return _replay_summary(decisions, event_count, time.perf_counter() - started)


def _replay_summary(decisions, event_count: int, seconds: float) -> ReplaySummary:
    queued_at: dict[str, datetime] = {}
    waits = []
    assigned = Counter()
    for decision in decisions:
        if decision.outcome == "queued":
            queued_at.setdefault(decision.contact, decision.at)
        elif decision.outcome == "assigned":
            assigned[decision.user] += 1
            if decision.contact in queued_at:
                waits.append((decision.at - queued_at.pop(decision.contact)).total_seconds())
        elif decision.outcome != "timed_out":
            queued_at.pop(decision.contact, None)
    outcomes = Counter(decision.outcome for decision in decisions)
    return ReplaySummary(event_count, len(decisions), seconds, outcomes, sorted(waits), assigned.most_common(5))
