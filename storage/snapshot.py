"""Loading a snapshot directory into DuckDB (SPEC 1), checked on the way in.

The tables it makes are normalized, so everything downstream reads one shape:
`users(id, name, status, deleted, open_contacts, last_assigned_at, <attributes>)`,
`memberships(team, user_id)` and `rotation(pool, last_user)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, overload

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from .files import FORMATS, StorageError, _reject_duplicate_ids, json_array_columns, read_table

STATUSES = ("online", "away", "offline")
USER_DEFAULTS = {
    "name": "CAST(NULL AS VARCHAR)",
    "status": "CAST(NULL AS VARCHAR)",
    "deleted": "FALSE",
    "open_contacts": "0",
    "last_assigned_at": "CAST(NULL AS TIMESTAMP)",
}


@dataclass
class Snapshot:
    connection: duckdb.DuckDBPyConnection
    directory: Path
    user_columns: dict[str, str]
    attribute_columns: list[str]
    teams: frozenset[str]
    user_ids: frozenset[str]
    warnings: list[str] = field(default_factory=list)


def load_snapshot(directory: str | Path, database: str = ":memory:") -> Snapshot:
    directory = Path(directory)
    if not directory.is_dir():
        raise StorageError(f"{directory}: no such snapshot directory")
    connection = duckdb.connect(database)
    users_path = _table_file(directory, "users", required=True)
    users = _checked_users(users_path, _read(connection, users_path))
    connection.register("snapshot_users", users)
    connection.execute(
        f"CREATE OR REPLACE TABLE users AS SELECT {_user_select(users.column_names)} FROM snapshot_users"
    )
    connection.unregister("snapshot_users")
    warnings = _load_memberships(connection, _table_file(directory, "memberships", required=False))
    _load_rotation(connection, _table_file(directory, "rotation", required=False))
    columns = dict(
        connection.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'users' ORDER BY ordinal_position"
        ).fetchall()
    )
    return Snapshot(
        connection=connection,
        directory=directory,
        user_columns=columns,
        attribute_columns=[name for name in columns if name not in ("id",) + tuple(USER_DEFAULTS)],
        teams=frozenset(row[0] for row in connection.execute("SELECT DISTINCT team FROM memberships").fetchall()),
        user_ids=frozenset(users.column("id").to_pylist()),
        warnings=warnings,
    )


@overload
def _table_file(directory: Path, table: str, required: Literal[True]) -> Path: ...
@overload
def _table_file(directory: Path, table: str, required: bool) -> Path | None: ...
def _table_file(directory: Path, table: str, required: bool) -> Path | None:
    found = [
        directory / f"{table}{extension}" for extension in FORMATS if (directory / f"{table}{extension}").is_file()
    ]
    if len(found) > 1:
        raise StorageError(
            f"{directory}: two files for table `{table}` ({found[0].name} and {found[1].name}); keep one"
        )
    if not found and required:
        raise StorageError(f"{directory}: no `{table}` file; add {table}.csv (or .parquet, .json, .jsonl)")
    return found[0] if found else None


def _read(connection: duckdb.DuckDBPyConnection, path: Path) -> pa.Table:
    table = read_table(connection, path, "file")
    return json_array_columns(table) if path.suffix.lower() == ".csv" else table


def _checked_users(path: Path, users: pa.Table) -> pa.Table:
    if "id" not in users.column_names:
        raise StorageError(f"{path}: missing column `id`; every user needs an id")
    users = users.set_column(users.column_names.index("id"), "id", pc.cast(users.column("id"), pa.string()))
    ids = users.column("id").to_pylist()
    if None in ids or "" in ids:
        raise StorageError(f"{path}: user on row {ids.index(None if None in ids else '') + 1} has no id")
    _reject_duplicate_ids(path, users.column("id"), "user")
    if "status" in users.column_names:
        for user_id, status in zip(ids, users.column("status").to_pylist()):
            if status not in STATUSES:
                raise StorageError(
                    f"{path}: unknown status `{status}` for user `{user_id}`; use online, away or offline"
                )
    else:
        raise StorageError(f"{path}: missing column `status` (online, away or offline)")
    if "open_contacts" in users.column_names:
        for user_id, count in zip(ids, users.column("open_contacts").to_pylist()):
            if count is not None and (not isinstance(count, int) or count < 0):
                raise StorageError(f"{path}: open_contacts must be a whole number >= 0 (user `{user_id}` has {count})")
    return users


def _user_select(columns: list[str]) -> str:
    parts = ["CAST(id AS VARCHAR) AS id"]
    for name, default in USER_DEFAULTS.items():
        if name not in columns:
            parts.append(f"{default} AS {name}")
        elif name == "last_assigned_at":
            parts.append(
                "CAST(timezone('UTC', CAST(last_assigned_at AS TIMESTAMPTZ)) AS TIMESTAMP) AS last_assigned_at"
            )
        elif name == "open_contacts":
            parts.append("CAST(coalesce(open_contacts, 0) AS BIGINT) AS open_contacts")
        elif name == "deleted":
            parts.append("coalesce(CAST(deleted AS BOOLEAN), FALSE) AS deleted")
        else:
            parts.append(f'CAST("{name}" AS VARCHAR) AS {name}')
    attributes = [name for name in columns if name != "id" and name not in USER_DEFAULTS]
    parts += ['"' + name.replace('"', '""') + '"' for name in attributes]
    return ", ".join(parts)


def _load_memberships(connection: duckdb.DuckDBPyConnection, path: Path | None) -> list[str]:
    connection.execute("CREATE OR REPLACE TABLE memberships (team VARCHAR NOT NULL, user_id VARCHAR NOT NULL)")
    if path is None:
        return []
    table = _read(connection, path)
    missing = [name for name in ("team", "user_id") if name not in table.column_names]
    if missing:
        raise StorageError(f"{path}: missing column `{missing[0]}`; memberships need `team` and `user_id`")
    connection.register("snapshot_memberships", table)
    connection.execute(
        "INSERT INTO memberships SELECT DISTINCT CAST(team AS VARCHAR), CAST(user_id AS VARCHAR) "
        "FROM snapshot_memberships WHERE team IS NOT NULL AND user_id IS NOT NULL"
    )
    connection.unregister("snapshot_memberships")
    unknown = connection.execute(
        "SELECT count(*) FROM memberships WHERE user_id NOT IN (SELECT id FROM users)"
    ).fetchall()[0][0]
    if not unknown:
        return []
    connection.execute("DELETE FROM memberships WHERE user_id NOT IN (SELECT id FROM users)")
    return [f"{path}: {unknown} membership(s) of users not in the users file were left out"]


def _load_rotation(connection: duckdb.DuckDBPyConnection, path: Path | None) -> None:
    connection.execute("CREATE OR REPLACE TABLE rotation (pool VARCHAR NOT NULL, last_user VARCHAR NOT NULL)")
    if path is None:
        return
    table = _read(connection, path)
    missing = [name for name in ("pool", "last_user") if name not in table.column_names]
    if missing:
        raise StorageError(f"{path}: missing column `{missing[0]}`; rotation needs `pool` and `last_user`")
    _reject_duplicate_ids(path, pc.cast(table.column("pool"), pa.string()), "pool")
    connection.register("snapshot_rotation", table)
    connection.execute(
        "INSERT INTO rotation SELECT CAST(pool AS VARCHAR), CAST(last_user AS VARCHAR) "
        "FROM snapshot_rotation WHERE pool IS NOT NULL AND last_user IS NOT NULL"
    )
    connection.unregister("snapshot_rotation")
