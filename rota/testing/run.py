"""A run: the starting snapshot, the event log, and the decisions the engine made.

Property checks read nothing else, so a run can come from the engine
(`run_engine`), from files, or be doctored by hand to show that a check fails.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from rota.engine import CompiledPolicy, Decision, Engine, Event, Roster, User, format_instant, load_roster
from rota.engine.snapshot import user_columns
from rota.storage import is_json_type, load_snapshot
from rota.storage.kinds import JSON_TYPE, json_array
from rota.storage.readers import reads_as_text
from rota.vocabulary import (
    STANDARD_USER_COLUMNS,
    USER_DELETED_COLUMN,
    USER_ID_COLUMN,
    USER_LAST_ASSIGNED_COLUMN,
    USER_NAME_COLUMN,
    USER_OPEN_COLUMN,
    USER_STATUS_COLUMN,
    USER_TEAMS_COLUMN,
    EventType,
    Status,
)

EngineFactory = Callable[[CompiledPolicy, Roster], Engine]


@dataclass(frozen=True)
class UserRecord:
    """One row of a snapshot's `users` table."""

    id: str
    status: str | None = Status.ONLINE.value  # a snapshot may leave it null
    deleted: bool = False
    open: int = 0
    last_assigned_at: datetime | None = None
    name: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def to_user(self) -> User:
        """A fresh engine user: every run and every model gets its own copy."""
        return User(
            id=self.id,
            status=self.status,
            name=self.name,
            deleted=self.deleted,
            open=self.open,
            last_assigned_at=self.last_assigned_at,
            attributes=dict(self.attributes),
        )


@dataclass(frozen=True)
class Snapshot:
    """Users, memberships `(team, user_id)` and round-robin cursors `(pool, last_user)`.

    `attribute_types` keeps each attribute column's Arrow type, so a written
    snapshot reads back with the same types even when a column holds only nulls."""

    users: tuple[UserRecord, ...] = ()
    memberships: tuple[tuple[str, str], ...] = ()
    cursors: tuple[tuple[str, str], ...] = ()
    attribute_types: Mapping[str, pa.DataType] = field(default_factory=dict)

    def roster(self) -> Roster:
        return Roster.build([user.to_user() for user in self.users], self.memberships, dict(self.cursors))

    @classmethod
    def from_directory(cls, directory: str | Path) -> Snapshot:
        """Read a snapshot directory the way `rota replay` does (rota.storage): defaults for absent
        optional columns, and a column whose values have no single kind kept as JSON (`JSON_TYPE`)."""
        connection = load_snapshot(directory).connection
        roster = load_roster(connection)
        schema = connection.sql("SELECT * FROM users LIMIT 0").to_arrow_table().schema
        duckdb_types = user_columns(connection)
        standard = {*STANDARD_USER_COLUMNS, USER_TEAMS_COLUMN}
        users = tuple(
            UserRecord(
                user.id, user.status, user.deleted, user.open, user.last_assigned_at, user.name, dict(user.attributes)
            )
            for user in sorted(roster.users.values(), key=lambda user: user.id)
        )
        memberships = tuple(
            (team, user_id) for team, members in sorted(roster.members.items()) for user_id in sorted(members)
        )
        return cls(
            users,
            memberships,
            tuple(sorted(roster.cursors.items())),
            {
                item.name: JSON_TYPE if duckdb_types.get(item.name) == "JSON" else item.type
                for item in schema
                if item.name not in standard
            },
        )

    def write(self, directory: str | Path) -> None:
        """users.csv when CSV reads every column back with its kind (storage sniffs a CSV cell's kind:
        text that looks like a number would come back a number); else users.parquet, or users.jsonl
        when a column holds values of mixed kinds; memberships.csv and rotation.csv."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        table = self._users_table()
        for stale in directory.glob("users.*"):
            stale.unlink()
        if any(is_json_type(arrow_type) for arrow_type in self.attribute_types.values()):
            _write_jsonl(directory / "users.jsonl", self)
        elif self._csv_reads_back(table):
            _write_csv(directory / "users.csv", table.column_names, [_csv_row(row) for row in table.to_pylist()])
        else:
            pq.write_table(table, directory / "users.parquet")
        _write_csv(directory / "memberships.csv", ["team", "user_id"], self.memberships)
        _write_csv(directory / "rotation.csv", ["pool", "last_user"], self.cursors)

    def _csv_reads_back(self, table: pa.Table) -> bool:
        if not len(table):
            return False
        for name, arrow_type in self.attribute_types.items():
            values = table.column(name)
            if values.null_count == len(table):
                return False  # no value: CSV cannot tell its type
            if pa.types.is_string(arrow_type) and not reads_as_text(values.to_pylist()):
                return False
            if pa.types.is_list(arrow_type) and not pa.types.is_string(arrow_type.value_type):
                return False  # the items of a list in CSV are text
        return True

    def _users_table(self) -> pa.Table:
        columns = {
            USER_ID_COLUMN: pa.array([u.id for u in self.users], pa.string()),
            USER_NAME_COLUMN: pa.array([u.name for u in self.users], pa.string()),
            USER_STATUS_COLUMN: pa.array([u.status for u in self.users], pa.string()),
            USER_DELETED_COLUMN: pa.array([u.deleted for u in self.users], pa.bool_()),
            USER_OPEN_COLUMN: pa.array([u.open for u in self.users], pa.int64()),
            USER_LAST_ASSIGNED_COLUMN: pa.array([u.last_assigned_at for u in self.users], pa.timestamp("us")),
        }
        for name, arrow_type in self.attribute_types.items():
            values = [u.attributes.get(name) for u in self.users]
            columns[name] = json_array(values) if is_json_type(arrow_type) else pa.array(values, arrow_type)
        return pa.table(columns)


def _write_jsonl(path: Path, snapshot: Snapshot) -> None:
    """Each value with its own kind; times as ISO 8601 (`last_assigned_at` reads them back as times)."""
    with open(path, "w", encoding="utf-8") as out:
        for user in snapshot.users:
            row = {
                "id": user.id,
                "name": user.name,
                "status": user.status,
                "deleted": user.deleted,
                "open_contacts": user.open,
                "last_assigned_at": None if user.last_assigned_at is None else format_instant(user.last_assigned_at),
                **{name: user.attributes.get(name) for name in snapshot.attribute_types},
            }
            out.write(json.dumps(row, ensure_ascii=False, default=format_instant) + "\n")


def _csv_row(row: dict[str, Any]) -> list[str]:
    return [_csv_value(name, value) for name, value in row.items()]


def _csv_value(name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        # last_assigned_at is read as an instant; other timestamp columns stay naive (UTC).
        return format_instant(value) if name == USER_LAST_ASSIGNED_COLUMN else value.isoformat(sep=" ")
    return str(value)


def _write_csv(path: Path, header: list[str], rows: Iterable[Iterable[Any]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)


@dataclass(frozen=True)
class EngineState:
    """What the engine holds once the run is over, read through its public attributes."""

    assignees: Mapping[str, str | None]
    closed: frozenset[str]
    queued: Mapping[str, tuple[str, datetime]]  # contact -> (route, deadline)
    open_counts: Mapping[str, int]

    @classmethod
    def of(cls, engine: Engine) -> EngineState:
        return cls(
            assignees={contact_id: state.contact.assignee for contact_id, state in engine.contacts.items()},
            closed=frozenset(contact_id for contact_id, state in engine.contacts.items() if state.closed),
            queued={contact_id: (entry.route, entry.deadline) for contact_id, entry in engine.queue.entries.items()},
            open_counts={user.id: user.open for user in engine.roster.users.values()},
        )


@dataclass(frozen=True)
class Run:
    policy: CompiledPolicy
    snapshot: Snapshot
    events: tuple[Event, ...]
    decisions: tuple[Decision, ...]
    until: datetime | None = None
    final: EngineState | None = None  # None for a run read from files

    def ordered_events(self) -> list[Event]:
        """The events the engine applied: sorted by time (stably), none after `until`."""
        ordered = sorted(self.events, key=lambda event: event.at)
        return [event for event in ordered if self.until is None or event.at <= self.until]

    def write(self, directory: str | Path, policy_text: str) -> ReplayFiles:
        """The run as files `rota replay` reads: policy.rota, snapshot/, events.jsonl."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        files = ReplayFiles(
            directory / "policy.rota",
            directory / "snapshot",
            directory / "events.jsonl",
            directory / "decisions.jsonl",
            self.until,
        )
        files.policy.write_text(policy_text, encoding="utf-8")
        self.snapshot.write(files.snapshot)
        write_events(self.events, files.events)
        return files


@dataclass(frozen=True)
class ReplayFiles:
    policy: Path
    snapshot: Path
    events: Path
    out: Path
    until: datetime | None

    def replay_arguments(self) -> list[str]:
        arguments = [
            "replay",
            str(self.policy),
            "--snapshot",
            str(self.snapshot),
            "--events",
            str(self.events),
            "--out",
            str(self.out),
        ]
        return arguments + (["--until", format_instant(self.until)] if self.until is not None else [])

    def replay_command(self) -> str:
        return "rota " + " ".join(self.replay_arguments())


def event_record(event: Event) -> dict[str, Any]:
    """An event as a replay log line (SPEC 5.1)."""
    record: dict[str, Any] = {"at": format_instant(event.at), "type": event.type}
    for name in ("contact", "user", "team", "status"):
        if getattr(event, name) is not None:
            record[name] = getattr(event, name)
    if event.type in (EventType.ROUTE, EventType.USER):
        record["attrs"] = event.attrs
    return record


def write_events(events: Iterable[Event], path: str | Path) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for event in events:
            out.write(json.dumps(event_record(event), ensure_ascii=False, default=format_instant) + "\n")


def run_engine(
    policy: CompiledPolicy,
    snapshot: Snapshot,
    events: Iterable[Event],
    until: datetime | None = None,
    engine_factory: EngineFactory = Engine,
) -> Run:
    """Run the events through a fresh engine as `rota replay` does; `until` defaults to the last event's time.

    `engine_factory` builds the engine: pass a variant to see the checks catch it."""
    events = tuple(events)
    ordered = sorted(events, key=lambda event: event.at)
    if until is None and ordered:
        until = ordered[-1].at
    engine = engine_factory(policy, snapshot.roster())
    decisions: list[Decision] = []
    for event in ordered:
        if until is None or event.at <= until:
            decisions += engine.handle(event)
    if until is not None:
        decisions += engine.advance(until, inclusive=True)
    return Run(policy, snapshot, events, tuple(decisions), until, EngineState.of(engine))
