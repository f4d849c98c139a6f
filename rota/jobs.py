"""The jobs behind the command line, usable from Python as they are."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pyarrow as pa

from rota.dsl import PolicyError, PolicySource, SnapshotSchema, analyze
from rota.engine import CompiledPolicy, compile_policy, load_roster, run_batch, snapshot_schema
from rota.storage import Snapshot, StorageError, Warn, load_snapshot, read_contacts, read_events, write_table
from rota.vocabulary import Outcome

Progress = Callable[[int, int], None]


def load_snapshot_warning(snapshot_dir: str | Path, warn: Warn | None = None) -> Snapshot:
    """The snapshot, its warnings (README "The snapshot") handed to `warn` as soon as it is loaded."""
    snapshot = load_snapshot(snapshot_dir)
    if warn is not None:
        for warning in snapshot.warnings:
            warn(warning)
    return snapshot


# A policy as the jobs take it: a file, a folder of `.rota` files, or texts already read.
PolicyLocation = str | Path | PolicySource


class PolicyNotReadable(OSError):
    """A policy that cannot be read: missing, unreadable, not UTF-8, or a folder without `.rota` files.
    The message is one line naming the real file."""


def read_policy_text(path: str | Path) -> str:
    """The policy's text (a byte-order mark, as some editors write, is dropped); an unreadable file is
    an input error (OSError, UnicodeDecodeError)."""
    return Path(path).read_text(encoding="utf-8-sig")


def read_policy_source(location: str | Path) -> PolicySource:
    """A policy file, or a folder's `.rota` files in name order (its subfolders and hidden files are
    not read); PolicyNotReadable says what is wrong."""
    path = Path(location)
    if not path.is_dir():
        return PolicySource.of_text(_read(path), str(location))
    files = sorted(
        (
            file
            for file in path.iterdir()
            if file.suffix == ".rota" and not file.name.startswith(".") and file.is_file()
        ),
        key=lambda file: file.name,
    )
    if not files:
        raise PolicyNotReadable(f"{location}: no .rota files in this folder")
    return PolicySource.of_files(str(location), {str(file): _read(file) for file in files})


def _read(path: Path) -> str:
    try:
        return read_policy_text(path)
    except UnicodeDecodeError:
        raise PolicyNotReadable(f"{path}: cannot read: not UTF-8 text") from None
    except OSError as error:
        raise PolicyNotReadable(f"{path}: cannot read: {error.strerror or error}") from None


def policy_source(policy: PolicyLocation) -> PolicySource:
    return policy if isinstance(policy, PolicySource) else read_policy_source(policy)


def policy_name(policy: PolicyLocation) -> str:
    """How the user named the policy: its file or folder."""
    return policy.name if isinstance(policy, PolicySource) else str(policy)


def compile_policy_file(policy: PolicyLocation, schema: SnapshotSchema | None = None) -> CompiledPolicy:
    """Parse, check and compile a policy file or folder; PolicyError carries every diagnostic."""
    source = policy_source(policy)
    checked, diagnostics = analyze(source, schema=schema)
    if checked is None:
        raise PolicyError([d for d in diagnostics if d.is_error], source.texts)
    return compile_policy(checked)


@dataclass
class BatchSummary:
    contacts: int
    seconds: float
    outcomes: Counter = field(default_factory=Counter)
    routes: Counter = field(default_factory=Counter)
    busiest_users: list[tuple[str, int]] = field(default_factory=list)

    @classmethod
    def of(cls, table: pa.Table, seconds: float) -> BatchSummary:
        outcomes, routes = _value_counts(table.column("outcome")), _value_counts(table.column("route"))
        return cls(table.num_rows, seconds, outcomes, routes, _value_counts(table.column("user")).most_common(5))


def _value_counts(column: pa.ChunkedArray) -> Counter:
    """How often each text appears; nulls left out. A dictionary column (rota batch's) is counted by its
    codes: Arrow's value_counts of the column itself took two to three times as long on rota batch's
    million rows."""
    counts: Counter = Counter()
    for chunk in column.chunks:
        names = chunk.dictionary.to_pylist() if pa.types.is_dictionary(chunk.type) else None
        for entry in (chunk if names is None else chunk.indices).value_counts().to_pylist():
            if entry["values"] is not None:
                counts[entry["values"] if names is None else names[entry["values"]]] += entry["counts"]
    return counts


def batch_file(
    policy_path: PolicyLocation,
    snapshot_dir: str | Path,
    contacts_path: str | Path,
    out_path: str | Path,
    now: datetime,
    progress: Progress | None = None,
    warn: Warn | None = None,
) -> BatchSummary:
    """`rota batch`: check the policy against the snapshot, route, write the rows.

    The contacts file is read while the roster is built, and the output written while the summary
    is counted: Arrow reads and writes without holding the interpreter, so on two cores each pair
    takes about the time of the longer. The read starts once the snapshot and the policy are
    found good, so an error in either shows at once, whatever the size of the contacts file."""
    started = time.perf_counter()
    snapshot = load_snapshot_warning(snapshot_dir, warn)
    policy = compile_policy_file(policy_path, snapshot_schema(snapshot.connection))
    with ThreadPoolExecutor(max_workers=1) as worker:
        contacts = worker.submit(read_contacts, contacts_path)
        roster = load_roster(snapshot.connection)
        table = run_batch(policy, snapshot.connection, roster, contacts.result(), now, progress, encoded=True)
        written = worker.submit(write_table, table, out_path)
        summary = BatchSummary.of(table, 0.0)
        written.result()
    summary.seconds = time.perf_counter() - started
    return summary


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
    policy_path: PolicyLocation,
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
    out only once committed, and a run stopped at any point resumes where it was.
    A file that holds another run (policy, snapshot or events) is refused
    (RunMismatch). Every input is read and checked before the file is touched."""
    from rota.engine import Engine
    from rota.engine.replay import load_events, replay_events, replay_window

    started = time.perf_counter()
    _check_output(Path(out_path))
    snapshot = load_snapshot_warning(snapshot_dir, warn)
    source = policy_source(policy_path)
    policy = compile_policy_file(source, snapshot_schema(snapshot.connection))
    records = read_events(events_path)
    if database is None:
        engine = Engine(policy, load_roster(snapshot.connection))
        decisions, event_count = replay_events(engine, records, events_path, out_path, until, progress)
        return _replay_summary(decisions, event_count, time.perf_counter() - started)
    events, until = replay_window(load_events(records, str(events_path)), until)
    roster = load_roster(snapshot.connection)
    decisions, resumed_after = _replay_into(
        database, source, roster, str(events_path), events, out_path, until, progress
    )
    summary = _replay_summary(decisions, len(events), time.perf_counter() - started)
    summary.resumed_after = resumed_after
    return summary


def replay_export(
    directory: str | Path, out_path: str | Path, until: datetime | None = None, progress: Progress | None = None
) -> ReplaySummary:
    """`rota replay --export DIR`: the export's inputs from its snapshot, each `policy` event switching to
    that version of its policies/ folder, then the timeouts due by `until` (default: the export's end)."""
    from rota.diagnostics import DATA_UNREADABLE
    from rota.engine import parse_instant
    from rota.engine.history import engine_from_state, input_from_record, run_inputs
    from rota.engine.replay import EventError, write_rows
    from rota.export_folder import MANIFEST, POLICIES, read_export
    from rota.storage.errors import data_error

    started = time.perf_counter()
    _check_output(Path(out_path))
    folder = read_export(Path(directory))
    policies = {version: compile_policy_file(source) for version, source in folder.policies.items()}
    first = folder.state["policy"]
    if first not in policies:
        raise data_error(
            Path(directory) / MANIFEST,
            f"names policy version {first!r}, but {POLICIES}/{first} is not in the export; export the window again",
            DATA_UNREADABLE,
        )
    inputs = []
    for record in folder.events:
        try:
            inputs.append(input_from_record(record, policies))
        except ValueError as error:
            raise EventError(f"{folder.events_path}:{record['_line']}: {error}") from None
    end = until or parse_instant(folder.manifest["until"])
    engine = engine_from_state(folder.state, policies[first])
    window = [entry for entry in sorted(inputs, key=lambda entry: entry.at) if entry.at <= end]
    decisions = run_inputs(engine, window, policies.__getitem__) + engine.advance(end, inclusive=True)
    write_rows(decisions, out_path)
    if progress is not None:
        progress(len(window), len(window))
    return _replay_summary(decisions, len(window), time.perf_counter() - started)


def _check_output(path: Path) -> None:
    if path.is_dir():
        raise StorageError(f"{path}: is a folder; give the output file's name")
    if not path.parent.is_dir():
        raise StorageError(f"{path}: folder {path.parent} does not exist")


def _replay_into(database, source, roster, events_source, events, out_path, until, progress):
    """The durable replay: (every decision written, events the file had applied before)."""
    from rota.engine import DurableEngine
    from rota.engine.provenance import EventLog, Run
    from rota.engine.replay import replay_durable_events
    from rota.storage.engine_store import remove_engine_file

    new_file = not Path(database).exists()
    run = Run.replay(source.name, roster, EventLog(events_source, events))
    try:
        durable = DurableEngine.open(database, source, roster, source.name, run=run)
    except BaseException:
        if new_file:  # a file this command made and could not use
            remove_engine_file(database)
        raise
    resumed_after = durable.events_applied
    try:
        decisions, _ = replay_durable_events(durable, events, out_path, until, progress=progress)
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
    assigned: Counter[str] = Counter()
    for decision in decisions:
        if decision.outcome == Outcome.QUEUED:
            queued_at.setdefault(decision.contact, decision.at)
        elif decision.outcome == Outcome.ASSIGNED:
            assigned[decision.user] += 1
            if decision.contact in queued_at:
                waits.append((decision.at - queued_at.pop(decision.contact)).total_seconds())
        elif decision.outcome != Outcome.TIMED_OUT:
            queued_at.pop(decision.contact, None)
    outcomes = Counter(decision.outcome for decision in decisions)
    return ReplaySummary(event_count, len(decisions), seconds, outcomes, sorted(waits), assigned.most_common(5))
