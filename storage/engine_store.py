"""The engine's state on disk: one DuckDB file, changed only by whole commits.

The store knows tables and rows, nothing of routing: the engine hands it
what one group of events changed, and `commit` writes all of it in one
transaction (users, memberships, cursors, contacts with their release timers and
released users, queue, appended decisions, counters), so a crash leaves the file as of the last commit.
A commit is appended to the file's journal (journal_file.py, `FILE.journal` beside it) and folded
into the tables in large groups; the journal is part of the engine file until then.
"""

from __future__ import annotations

import datetime as datetime_module
import io
import json
import os
import pickle
import re
import threading
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from rota.vocabulary import ReassignTrigger

from .journal_file import FILE_ID_BYTES, JournalFile, journal_path
from .legacy_releases import LEGACY_SCHEMA, TIMERS_TABLE, LegacyJournal, moving_statements

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id VARCHAR PRIMARY KEY, name VARCHAR, status VARCHAR, deleted BOOLEAN NOT NULL,
    open_contacts BIGINT NOT NULL, last_assigned_at TIMESTAMP, assigned_order BIGINT NOT NULL,
    attributes JSON);
CREATE TABLE IF NOT EXISTS memberships (team VARCHAR NOT NULL, user_id VARCHAR NOT NULL, PRIMARY KEY (team, user_id));
CREATE TABLE IF NOT EXISTS rotation (pool VARCHAR PRIMARY KEY, last_user VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS contacts (
    id VARCHAR PRIMARY KEY, assignee VARCHAR, closed BOOLEAN NOT NULL, attributes JSON);
CREATE TABLE IF NOT EXISTS queue (
    contact VARCHAR PRIMARY KEY, route VARCHAR NOT NULL, enqueued_at TIMESTAMP NOT NULL,
    deadline TIMESTAMP NOT NULL, priority BIGINT NOT NULL, sequence BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS decisions (
    seq BIGINT PRIMARY KEY, "at" TIMESTAMP, contact VARCHAR, route VARCHAR, outcome VARCHAR, "user" VARCHAR,
    reason VARCHAR, deadline TIMESTAMP, policy_version VARCHAR, candidates BIGINT);
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS policies (version VARCHAR PRIMARY KEY, text VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL);
CREATE TABLE IF NOT EXISTS journal (body VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS binary_journal (body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS journal_file (id BLOB NOT NULL, folded_through BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (destination VARCHAR PRIMARY KEY, delivered_through BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS decision_inputs (seq BIGINT PRIMARY KEY, whole BOOLEAN NOT NULL, body VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS inputs (seq BIGINT PRIMARY KEY, "at" TIMESTAMP NOT NULL, body VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS history_base ("at" TIMESTAMP NOT NULL, body VARCHAR NOT NULL);
"""
# What SPEC 4.1 keeps of a contact is in its own row, written with it: the users it was released from
# (sorted; NULL: none), then its release timers: the route whose options they are and the assignment
# that set them, and per trigger (ReassignTrigger's order) its seconds (NULL: no such timer), due
# (NULL: not running) and the order it was last armed in.
_TIMER_PARTS = {"seconds": "BIGINT", "due": "TIMESTAMP", "armed": "BIGINT"}
_TIMER_TYPES = {"timer_route": "VARCHAR", "timer_assignment": "BIGINT"} | {
    f"{trigger}_{part}": kind for trigger in ReassignTrigger.texts() for part, kind in _TIMER_PARTS.items()
}
TIMER_COLUMNS = tuple(_TIMER_TYPES)  # as engine/releases.py `timer_columns` gives their values
_RELEASE_TYPES = {"released": "VARCHAR[]"} | _TIMER_TYPES
# Added to the table of a file that has none (rota 0.1.0's): its contacts have no timers, nor released users.
SCHEMA += "".join(
    f"ALTER TABLE contacts ADD COLUMN IF NOT EXISTS {name} {kind};\n" for name, kind in _RELEASE_TYPES.items()
)

SMALL_BATCH = 32
CHECKPOINT_ROWS = 100_000  # journaled rows past which they are folded into the tables (few, large folds)
_ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "BOOLEAN": pa.bool_(),
    "BIGINT": pa.int64(),
    "TIMESTAMP": pa.timestamp("us"),
    "JSON": pa.string(),
    "VARCHAR[]": pa.list_(pa.string()),
}
USER_COLUMNS = ("id", "name", "status", "deleted", "open_contacts", "last_assigned_at", "assigned_order", "attributes")
_PLAIN_CONTACT_COLUMNS = ("id", "assignee", "closed", "attributes")  # rota 0.1.0's, all a short row has
CONTACT_COLUMNS = (*_PLAIN_CONTACT_COLUMNS, *_RELEASE_TYPES)
# What clears the SPEC 4.1 state of the contacts a fold gives short rows: only where there is some to clear.
_CLEAR_RELEASE_STATE = (
    f"UPDATE contacts SET {', '.join(f'{name} = NULL' for name in _RELEASE_TYPES)} "
    f"WHERE ({' OR '.join(f'{name} IS NOT NULL' for name in _RELEASE_TYPES)}) AND"
)
DECISION_COLUMNS = (
    "seq",
    "at",
    "contact",
    "route",
    "outcome",
    "user",
    "reason",
    "deadline",
    "policy_version",
    "candidates",
)


@dataclass
class Changes:
    """What one commit writes. Rows are plain tuples in the column orders above."""

    users: list[tuple] = field(default_factory=list)
    memberships: dict[str, list[str]] = field(default_factory=dict)  # user id -> all its teams
    cursors: dict[str, str] = field(default_factory=dict)
    # With their released users and timers (SPEC 4.1); a row without those columns has none.
    contacts: list[tuple] = field(default_factory=list)
    queued: list[tuple] = field(default_factory=list)
    unqueued: list[str] = field(default_factory=list)
    decisions: list[tuple] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)
    policies: list[tuple] = field(default_factory=list)  # (version, text, created_at), kept forever
    decision_inputs: list[tuple] = field(default_factory=list)  # (seq, whole, JSON body): what `rota explain` reads
    inputs: list[tuple] = field(default_factory=list)  # (seq, at, JSON line): the service's history
    history_base: list[tuple] = field(default_factory=list)  # (at, JSON state): where the history starts, once


class EngineFileError(ValueError):
    """An engine file that cannot be opened, said in one line naming it and what to do."""


class EngineFileInUse(EngineFileError):
    """An engine file another process holds open, such as a running `rota serve`."""


class EngineStore:
    def __init__(self, path: str | Path = ":memory:", create: bool = True):
        """Open the engine file at `path`, or create it (unless `create` is false);
        EngineFileError when it is not a file this store can use."""
        self.path = str(path)
        self.connection = _connect(self.path, create)
        # One transaction: a process killed while making a new file leaves all the tables or none, so a
        # file with tables but no `meta` is never rota's (and the same command resumes a killed start).
        self.connection.execute(f"BEGIN TRANSACTION; {SCHEMA} COMMIT;")
        # One DuckDB connection is not for two threads at once: a writer and readers share this lock.
        self.lock = threading.RLock()
        # Journaled changes not yet folded into the tables; a crash leaves them in the journal file (or, in a
        # file written before it, in the `binary_journal` table, or before that as JSON in `journal`).
        # A record of the build that kept release timers and released users in tables of their own carries them
        # apart: `legacy` takes them, for the fold below to write them where that build did, then move them.
        legacy = LegacyJournal()
        self._journal: JournalFile | None = None
        self._unfolded = [_decode(row[0]) for row in self.connection.execute("SELECT body FROM journal").fetchall()] + [
            _unpickled(row[0], legacy) for row in self.connection.execute("SELECT body FROM binary_journal").fetchall()
        ]
        try:
            self._journal = None if self.path == ":memory:" else self._open_journal(legacy)
            self._unfolded_rows = sum(_size(changes) for changes in self._unfolded)
            self._last_settings: tuple[dict[str, str], dict[str, str]] | None = None  # meta, cursors last committed
            if legacy.found:
                self.connection.execute(LEGACY_SCHEMA)
            self._column_types = self._read_column_types()
            if TIMERS_TABLE in self._column_types:  # that build's file: its tables moved into the contacts' rows
                self._fold(legacy)
                self._column_types = self._read_column_types()
        except BaseException:
            self.connection.close()
            if self._journal is not None:
                self._journal.close()
            raise

    def _read_column_types(self) -> dict[str, dict[str, str]]:
        types: dict[str, dict[str, str]] = {}
        for table, column, type_name in self.connection.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
        ).fetchall():
            types.setdefault(table, {})[column] = type_name
        return types

    def is_empty(self) -> bool:
        return not self.meta() and self.count("users") == 0

    def count(self, table: str) -> int:
        with self.lock:
            self.checkpoint()
            return self.connection.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]

    def meta(self) -> dict[str, str]:
        with self.lock:
            self.checkpoint()
            return dict(self.connection.execute("SELECT key, value FROM meta").fetchall())

    def rows(self, table: str, order_by: str) -> list[tuple]:
        with self.lock:
            self.checkpoint()
            return self.connection.execute(f"SELECT * FROM {table} ORDER BY {order_by}").fetchall()

    def commit(self, changes: Changes) -> None:
        """Durable when it returns: one journal record for a small change, folded into the tables
        at the next checkpoint; a large one directly; none for a commit that changes nothing."""
        with self.lock:
            # A timer tick with nothing due repeats the last commit's counters: the file holds it already, and
            # an idle service would otherwise grow its journal by a record four times a second.
            if self._last_settings == (changes.meta, changes.cursors) and _only_settings(changes):
                return
            size = _size(changes)
            if self._unfolded_rows + size <= CHECKPOINT_ROWS and self._journal is not None:
                self._journal.append(_pickled(changes))
            self._unfolded.append(changes)
            self._unfolded_rows += size
            if self._unfolded_rows > CHECKPOINT_ROWS:
                self.checkpoint()
            self._last_settings = (changes.meta, changes.cursors)

    def _open_journal(self, legacy: LegacyJournal) -> JournalFile:
        found = self.connection.execute("SELECT id, folded_through FROM journal_file").fetchall()
        if not found:
            found = [(os.urandom(FILE_ID_BYTES), 0)]
            self.connection.execute("INSERT INTO journal_file VALUES (?, ?)", list(found[0]))
        file_id, folded_through = found[0]
        journal = JournalFile(journal_path(self.path), file_id, folded_through)
        self._unfolded += [_unpickled(body, legacy) for body in journal.records]
        journal.records = []
        return journal

    def checkpoint(self) -> None:
        """Fold what the journal holds into the tables, in one transaction."""
        with self.lock:
            if self._unfolded:
                self._fold()

    def _fold(self, legacy: LegacyJournal | None = None) -> None:
        """`checkpoint`'s transaction; with `legacy`, that build's timers and released users written as it
        did, then moved into the contacts' columns and their tables dropped (the same transaction)."""
        self.connection.execute("BEGIN TRANSACTION")
        try:
            self._write(_merged(self._unfolded))
            if legacy is not None:
                self._move_legacy(legacy)
            self.connection.execute("DELETE FROM journal")
            self.connection.execute("DELETE FROM binary_journal")
            if self._journal is not None:  # records up to here are in the tables, should emptying it fail
                self.connection.execute("UPDATE journal_file SET folded_through = ?", [self._journal.last_number])
            self.connection.execute("COMMIT")
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self._unfolded, self._unfolded_rows = [], 0
        if self._journal is not None:
            self._journal.empty()

    def _move_legacy(self, legacy: LegacyJournal) -> None:
        for table, columns, per_contact in legacy.rows():
            if per_contact:
                self._delete_where_in(table, "contact", list(per_contact))
            rows = [row for contact_rows in per_contact.values() for row in contact_rows]
            if rows:
                self._upsert(table, columns, rows)
        for statement, parameters in moving_statements(tuple(_TIMER_PARTS)):
            self.connection.execute(statement, parameters)

    def _write(self, changes: Changes) -> None:
        # Large batches go as Arrow tables (DuckDB's executemany is row by row); a few rows as plain statements.
        if changes.users:
            self._upsert("users", USER_COLUMNS, changes.users)
        if changes.memberships:
            self._delete_where_in("memberships", "user_id", list(changes.memberships))
            rows = [(team, user_id) for user_id, teams in changes.memberships.items() for team in teams]
            if rows:
                self._upsert("memberships", ("team", "user_id"), rows)
        if changes.cursors:
            self._upsert("rotation", ("pool", "last_user"), list(changes.cursors.items()))
        if changes.contacts:
            self._write_contacts(changes.contacts)
        if changes.unqueued:
            self._delete_where_in("queue", "contact", changes.unqueued)
        if changes.queued:
            self._upsert(
                "queue", ("contact", "route", "enqueued_at", "deadline", "priority", "sequence"), changes.queued
            )
        if changes.decisions:
            self._upsert("decisions", DECISION_COLUMNS, changes.decisions, verb="INSERT")
        if changes.meta:
            self._upsert("meta", ("key", "value"), list(changes.meta.items()))
        if changes.policies:
            self._upsert("policies", ("version", "text", "created_at"), changes.policies, verb="INSERT OR IGNORE")
        if changes.decision_inputs:
            self._upsert("decision_inputs", ("seq", "whole", "body"), changes.decision_inputs, verb="INSERT")
        if changes.inputs:
            self._upsert("inputs", ("seq", "at", "body"), changes.inputs, verb="INSERT")
        if changes.history_base:
            self._upsert("history_base", ("at", "body"), changes.history_base, verb="INSERT")

    def _write_contacts(self, rows: list[tuple]) -> None:
        """Contact rows of both widths: a shorter one (a contact with no released users nor timers, or any of
        a journal record of rota 0.1.0) writes only the plain columns, and the SPEC 4.1 columns are cleared
        where a contact had state before. Most rows are short: writing their NULLs into every column took
        twice the CPU of this (list columns are updated by a delete and an insert), and a larger file."""
        full = [row for row in rows if len(row) == len(CONTACT_COLUMNS)]
        short = [row for row in rows if len(row) < len(CONTACT_COLUMNS)] if full else rows
        if full:
            self._upsert("contacts", CONTACT_COLUMNS, full)
        if short:
            self._upsert("contacts", _PLAIN_CONTACT_COLUMNS, short)  # a row there keeps its SPEC 4.1 columns
            self._where_in(_CLEAR_RELEASE_STATE, "id", [row[0] for row in short])

    def _upsert(self, table: str, columns: tuple[str, ...], rows: list[tuple], verb: str = "INSERT OR REPLACE") -> None:
        names = ", ".join(f'"{name}"' for name in columns)
        if len(rows) <= SMALL_BATCH:
            placeholders = ", ".join("(" + ", ".join("?" * len(columns)) + ")" for _ in rows)
            self.connection.execute(
                f"{verb} INTO {table} ({names}) VALUES {placeholders}", [value for row in rows for value in row]
            )
            return
        target_types = self._column_types[table]
        batch = pa.table(
            {name: pa.array(values, _ARROW_TYPES[target_types[name]]) for name, values in zip(columns, zip(*rows))}
        )
        self.connection.register("rota_store_batch", batch)
        try:
            self.connection.execute(f"{verb} INTO {table} ({names}) SELECT {names} FROM rota_store_batch")
        finally:
            self.connection.unregister("rota_store_batch")

    def _delete_where_in(self, table: str, column: str, keys: list[str]) -> None:
        self._where_in(f"DELETE FROM {table} WHERE", column, keys)

    def _where_in(self, statement: str, column: str, keys: list[str]) -> None:
        """`statement`, a DELETE or UPDATE ending in WHERE or AND, for the rows whose `column` is one of `keys`."""
        if len(keys) <= SMALL_BATCH:
            self.connection.execute(f"{statement} {column} IN ({', '.join('?' * len(keys))})", keys)
            return
        self.connection.register("rota_store_keys", pa.table({"key": pa.array(keys, pa.string())}))
        try:
            self.connection.execute(f"{statement} {column} IN (SELECT key FROM rota_store_keys)")
        finally:
            self.connection.unregister("rota_store_keys")

    def decisions(self, **filters: Any) -> list[dict[str, Any]]:
        """The decision log, oldest first; filters on contact, user, route, outcome, since, after, limit.

        `limit` keeps the newest rows, or with `after` (a sequence number) the first ones after it: a page."""
        clauses, parameters = [], []
        for column in ("contact", "user", "route", "outcome"):
            if filters.get(column) is not None:
                clauses.append(f'"{column}" = ?')
                parameters.append(filters[column])
        if filters.get("since") is not None:
            clauses.append('"at" >= ?')
            parameters.append(filters["since"])
        after = filters.get("after")
        if after is not None:
            clauses.append("seq > ?")
            parameters.append(after)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        limit = int(filters.get("limit") or 0)
        query = f"SELECT * FROM decisions {where} ORDER BY seq"
        if limit and after is not None:
            query += " LIMIT ?"
            parameters.append(limit)
        elif limit:
            query = f"SELECT * FROM ({query} DESC LIMIT ?) ORDER BY seq"
            parameters.append(limit)
        with self.lock:
            self.checkpoint()
            rows = self.connection.execute(query, parameters).fetchall()
        return [dict(zip(DECISION_COLUMNS, row)) for row in rows]

    def decisions_after(self, seq: int, limit: int) -> list[tuple]:
        """The first `limit` decision rows after sequence number `seq`, in order, without folding the
        journal (a reader that follows the log must not make the writer wait for a checkpoint)."""
        with self.lock:
            rows = self.connection.execute(
                "SELECT * FROM decisions WHERE seq > ? ORDER BY seq LIMIT ?", [seq, limit]
            ).fetchall()
            for changes in self._unfolded:  # newer than every folded row: commits keep their order
                if len(rows) >= limit:
                    break
                rows.extend(row for row in changes.decisions if row[0] > seq)
        return rows[:limit]

    def decision_inputs(self, seq: int) -> list[tuple[int, str]]:
        """(seq, note) of decision `seq` and those before it, back to the last note of every user (`whole`), in order."""
        with self.lock:
            self.checkpoint()
            rows = self.connection.execute(
                "SELECT seq, body FROM decision_inputs WHERE seq <= ? AND seq >= "
                "(SELECT max(seq) FROM decision_inputs WHERE whole AND seq <= ?) ORDER BY seq",
                [seq, seq],
            ).fetchall()
        return [(row[0], row[1]) for row in rows]

    def delivered_through(self, destination: str) -> int | None:
        """The last sequence number delivered to `destination` (a webhook's URL), None when it is new."""
        with self.lock:
            found = self.connection.execute(
                "SELECT delivered_through FROM deliveries WHERE destination = ?", [destination]
            ).fetchall()
        return found[0][0] if found else None

    def save_delivered_through(self, destination: str, seq: int) -> None:
        """Durable when it returns; kept apart from the commits of decisions (one small transaction)."""
        with self.lock:
            self.connection.execute("INSERT OR REPLACE INTO deliveries VALUES (?, ?)", [destination, seq])

    def policies(self) -> list[dict[str, Any]]:
        with self.lock:
            self.checkpoint()
            rows = self.connection.execute(
                "SELECT version, text, created_at FROM policies ORDER BY created_at, version"
            ).fetchall()
        return [{"version": version, "text": text, "created_at": created_at} for version, text, created_at in rows]

    def history_base(self) -> tuple[Any, str] | None:
        """Where the service's history starts: (its instant, the state as JSON), None before it is kept."""
        with self.lock:
            self.checkpoint()
            rows = self.connection.execute('SELECT "at", body FROM history_base').fetchall()
        return rows[0] if rows else None

    def inputs(self, until: Any = None) -> list[tuple]:
        """The inputs kept, (seq, at, JSON line) in the order applied; those at or before `until` when given."""
        with self.lock:
            self.checkpoint()
            if until is None:
                return self.connection.execute('SELECT seq, "at", body FROM inputs ORDER BY seq').fetchall()
            return self.connection.execute(
                'SELECT seq, "at", body FROM inputs WHERE "at" <= ? ORDER BY seq', [until]
            ).fetchall()

    def last_input_at(self) -> Any:
        """The instant of the latest input kept, None when there is none."""
        with self.lock:
            self.checkpoint()
            return self.connection.execute('SELECT max("at") FROM inputs').fetchall()[0][0]

    def close(self) -> None:
        with self.lock:
            try:
                self.checkpoint()
            finally:
                self.connection.close()
                if self._journal is not None:
                    self._journal.close()


def remove_engine_file(path: str | Path) -> None:
    """Delete an engine file, DuckDB's write-ahead log and the journal beside it (a command that made it and
    then stopped)."""
    for name in (Path(path), Path(f"{path}.wal"), journal_path(path)):
        name.unlink(missing_ok=True)


# What DuckDB says when it cannot open a file, and what the user reads instead.
_LOCKED = re.compile(r"Could not set lock|Conflicting lock", re.IGNORECASE)
_HOLDER = re.compile(r"\(PID (\d+)\)")
_NEEDS_ACCESS = "permission denied; the engine file needs to be readable and writable"
_OPEN_FAILURES = (
    (
        re.compile(r"not a valid DuckDB database", re.IGNORECASE),
        "not a DuckDB file; give an engine file that rota wrote",
    ),
    (
        re.compile(r"version", re.IGNORECASE),
        "written by another version of DuckDB; open it with the rota that wrote it, or use a new file",
    ),
    (re.compile(r"Permission denied|Read-only file system", re.IGNORECASE), _NEEDS_ACCESS),
)


def _connect(path: str, create: bool) -> duckdb.DuckDBPyConnection:
    """A connection to the engine file, checked first by what the file system says."""
    if path == ":memory:":
        return duckdb.connect(path)
    file = Path(path)
    if file.is_dir():
        raise EngineFileError(f"{file}: is a folder, not an engine file; give the name of a file")
    if not file.exists():
        if not create:
            raise EngineFileError(f"{file}: no such engine file")
        if not file.parent.is_dir():
            raise EngineFileError(f"{file}: folder {file.parent} does not exist; create it first")
    elif not os.access(file, os.R_OK | os.W_OK):
        raise EngineFileError(f"{file}: {_NEEDS_ACCESS}")
    elif file.stat().st_size == 0:
        raise EngineFileError(f"{file}: is empty, not an engine file; delete it or give another name")
    try:
        connection = duckdb.connect(path)
    except duckdb.Error as error:
        if _LOCKED.search(str(error)):
            holder = _HOLDER.search(str(error))
            process = f"another process (PID {holder.group(1)})" if holder else "another process"
            raise EngineFileInUse(
                f"{file}: in use by {process}, such as a running rota serve; stop it first, or use another file"
            ) from None
        raise EngineFileError(_open_failure(file, str(error))) from None
    tables = {row[0] for row in connection.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    if tables and "meta" not in tables:
        connection.close()
        raise EngineFileError(f"{file}: a DuckDB database, but not a rota engine file; give another --db file")
    return connection


def _open_failure(file: Path, said: str) -> str:
    for pattern, reason in _OPEN_FAILURES:
        if pattern.search(said):
            return f"{file}: {reason}"
    return f"{file}: cannot be opened as an engine file; check that rota wrote it and that no other program holds it"


# A time attribute (from a snapshot's timestamp column) in the JSON of the tables: tagged, so it
# reads back as a time, not as text (values keep their kind: storage.kinds).
_TIME_TAG = "$time"


def _tagged_time(value: Any) -> Any:
    if isinstance(value, datetime_module.datetime):
        return {_TIME_TAG: value.isoformat()}
    return str(value)


def _untagged_time(value: dict[str, Any]) -> Any:
    if len(value) == 1 and _TIME_TAG in value:
        return datetime_module.datetime.fromisoformat(value[_TIME_TAG])
    return value


# One encoder for every row: `json.dumps` with options builds a new one per call.
_ATTRIBUTES_ENCODER = json.JSONEncoder(default=_tagged_time, sort_keys=True)
_ATTRIBUTES_DECODER = json.JSONDecoder(object_hook=_untagged_time)


def encode_attributes(attributes: dict[str, Any]) -> str:
    return _ATTRIBUTES_ENCODER.encode(attributes) if attributes else "{}"


def decode_attributes(text: str | None) -> dict[str, Any]:
    return _ATTRIBUTES_DECODER.decode(text) if text else {}


# Columns that hold times, by Changes field and position: the JSON journal carries them as text.
_TIME_COLUMNS = {"users": (5,), "queued": (2, 3), "decisions": (1, 7), "policies": (2,)}


_SETTINGS = ("meta", "cursors")  # written whole by every commit; every other field holds only what changed


def _only_settings(changes: Changes) -> bool:
    return not any(getattr(changes, kind.name) for kind in fields(Changes) if kind.name not in _SETTINGS)


def _size(changes: Changes) -> int:
    return (
        len(changes.users)
        + len(changes.contacts)
        + len(changes.queued)
        + len(changes.unqueued)
        + len(changes.decisions)
        + len(changes.decision_inputs)
        + len(changes.inputs)
        + sum(len(teams) + 1 for teams in changes.memberships.values())
    )


def _pickled(changes: Changes) -> bytes:
    """A journal body: pickling is several times faster than JSON, and half the size."""
    return pickle.dumps(
        {name: getattr(changes, name) for name in Changes.__dataclass_fields__}, protocol=pickle.HIGHEST_PROTOCOL
    )


class _JournalUnpickler(pickle.Unpickler):
    """Reads back plain values and times only: a journal body can name no other class."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "datetime" and name in ("datetime", "date", "time", "timedelta", "timezone"):
            return getattr(datetime_module, name)
        raise pickle.UnpicklingError(f"a journal body names {module}.{name}")


def _unpickled(body: bytes, legacy: LegacyJournal | None = None) -> Changes:
    """A journal body; `legacy` takes what a record of the build with release tables says of them."""
    record = _JournalUnpickler(io.BytesIO(body)).load()
    return Changes(**(record if legacy is None else legacy.take(record)))


def _decode(body: str) -> Changes:
    from datetime import datetime

    fields = json.loads(body)
    for name, positions in _TIME_COLUMNS.items():
        fields[name] = [
            tuple(
                datetime.fromisoformat(value) if index in positions and value is not None else value
                for index, value in enumerate(row)
            )
            for row in fields[name]
        ]
    for name in ("contacts",):
        fields[name] = [tuple(row) for row in fields[name]]
    return Changes(**fields)


def _merged(changes_in_order: list[Changes]) -> Changes:
    """Many commits as one: the last state of every row wins, decisions and versions add up."""
    users: dict[str, tuple] = {}  # rows by their key, the last one kept
    contacts: dict[str, tuple] = {}
    queue: dict[str, tuple | None] = {}  # None: taken out of the queue
    memberships: dict[str, list[str]] = {}
    cursors: dict[str, str] = {}
    meta: dict[str, str] = {}
    merged = Changes()
    for changes in changes_in_order:
        users.update((row[0], row) for row in changes.users)
        contacts.update((row[0], row) for row in changes.contacts)
        queue.update((contact, None) for contact in changes.unqueued)
        queue.update((row[0], row) for row in changes.queued)
        memberships.update(changes.memberships)
        cursors.update(changes.cursors)
        meta.update(changes.meta)
        merged.decisions.extend(changes.decisions)
        merged.policies.extend(changes.policies)
        merged.decision_inputs.extend(changes.decision_inputs)
        merged.inputs.extend(changes.inputs)
        merged.history_base.extend(changes.history_base)
    merged.users, merged.contacts = list(users.values()), list(contacts.values())
    merged.queued = [row for row in queue.values() if row is not None]
    merged.unqueued = [contact for contact, row in queue.items() if row is None]
    merged.memberships, merged.cursors, merged.meta = memberships, cursors, meta
    return merged
