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
from rota.storage import StorageError, load_snapshot, read_contacts, read_events, write_table

Progress = Callable[[int, int], None]


def read_policy_text(path: str | Path) -> str:
    """The policy's text (a byte-order mark, as some editors write, is dropped); a missing,
    unreadable or non-UTF-8 file is a StorageError naming it."""
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise StorageError(f"{path}: not UTF-8 text (byte {error.start + 1}); save it as UTF-8") from None
    except OSError as error:
        raise StorageError(f"{path}: cannot read: {(error.strerror or 'unreadable').lower()}") from None


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
) -> BatchSummary:
    """`rota batch`: check the policy against the snapshot, route, write the rows."""
    started = time.perf_counter()
    snapshot = load_snapshot(snapshot_dir)
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
    resumed_after: int = 0  # events an earlier run had applied to the --db file


def replay_file(
    policy_path: str | Path,
    snapshot_dir: str | Path,
    events_path: str | Path,
    out_path: str | Path,
    until: datetime | None = None,
    progress: Progress | None = None,
    database: str | Path | None = None,
) -> ReplaySummary:
    """`rota replay`: run an event log through the engine; JSON lines out, in decision order.

    With `database`, the engine lives in that DuckDB file: decisions are written
    out only once committed, and a run stopped at any point resumes where it was.
    A file that holds another run (policy, snapshot or events) is refused
    (RunMismatch). Every input is read and checked before the file is touched."""
    from rota.engine import Engine
    from rota.engine.replay import load_events, replay_events, replay_window

    started = time.perf_counter()
    _check_output(Path(out_path))
    snapshot = load_snapshot(snapshot_dir)
    policy = compile_policy_file(policy_path, snapshot_schema(snapshot.connection))
    records = read_events(events_path)
    if database is None:
        engine = Engine(policy, load_roster(snapshot.connection))
        decisions, event_count = replay_events(engine, records, events_path, out_path, until, progress)
        return _replay_summary(decisions, event_count, time.perf_counter() - started)
    events, until = replay_window(load_events(records, str(events_path)), until)
    roster = load_roster(snapshot.connection)
    decisions, resumed_after = _replay_into(
        database,
        read_policy_text(policy_path),
        roster,
        str(policy_path),
        str(events_path),
        events,
        out_path,
        until,
        progress,
    )
    summary = _replay_summary(decisions, len(events), time.perf_counter() - started)
    summary.resumed_after = resumed_after
    return summary


def _check_output(path: Path) -> None:
    if path.is_dir():
        raise StorageError(f"{path}: is a folder; give the output file's name")
    if not path.parent.is_dir():
        raise StorageError(f"{path}: folder {path.parent} does not exist")


def _replay_into(database, policy_text, roster, policy_file, events_source, events, out_path, until, progress):
    """The durable replay: (every decision written, events the file had applied before)."""
    from rota.engine import DurableEngine
    from rota.engine.provenance import EventLog, Run
    from rota.engine.replay import replay_durable
    from rota.storage.engine_store import remove_engine_file

    new_file = not Path(database).exists()
    run = Run.replay(policy_file, roster, EventLog(events_source, events))
    try:
        durable = DurableEngine.open(database, policy_text, roster, policy_file, run=run)
    except BaseException:
        if new_file:  # a file this command made and could not use
            remove_engine_file(database)
        raise
    resumed_after = durable.events_applied
    try:
        decisions, _ = replay_durable(durable, events, out_path, until, progress=progress)
    except BaseException:
        if new_file and durable.events_applied == 0:  # stopped before it did anything: leave nothing behind
            durable.store.close()
            remove_engine_file(database)
        else:
            durable.close()
        raise
    durable.close()
    return decisions, resumed_after


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
