"""Loading a snapshot directory into DuckDB (SPEC 1), checked on the way in.

The tables it makes are normalized, so everything downstream reads one shape:
`users(id, name, status, deleted, open_contacts, last_assigned_at, <attributes>)`,
`memberships(team, user_id)` and `rotation(pool, last_user)`. An optional
column the file leaves out has its default (vocabulary.OPTIONAL_USER_COLUMNS);
an attribute column whose values have no single kind is a JSON column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, overload

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from rota.diagnostics import (
    DATA_BAD_VALUE,
    DATA_DROPPED,
    DATA_NO_VALUES,
    DATA_UNREADABLE,
    Diagnostic,
)
from rota.vocabulary import OPTIONAL_USER_COLUMNS, STANDARD_USER_COLUMNS, USER_ID_COLUMN, USER_STATUS_COLUMN

from .errors import data_error, data_warning, row_word
from .files import reject_duplicate_ids, require_columns, with_id_column
from .kinds import STATUSES, column_values, json_array
from .readers import FORMATS, CsvColumn, Read, read_file, shown

# The kind each built-in user column needs (readers.WANTS), and its Arrow type.
USER_COLUMN_KINDS = {"deleted": "bool", "open_contacts": "int", "last_assigned_at": "timestamp"}
USER_COLUMN_TYPES = {
    USER_ID_COLUMN: pa.string(),
    "name": pa.string(),
    USER_STATUS_COLUMN: pa.string(),
    "deleted": pa.bool_(),
    "open_contacts": pa.int64(),
    "last_assigned_at": pa.timestamp("us"),
}


@dataclass
class Snapshot:
    connection: duckdb.DuckDBPyConnection
    directory: Path
    user_columns: dict[str, str]
    attribute_columns: list[str]
    teams: frozenset[str]
    user_ids: frozenset[str]
    warnings: list[Diagnostic] = field(default_factory=list)


def load_snapshot(directory: str | Path, database: str = ":memory:") -> Snapshot:
    directory = Path(directory)
    if not directory.is_dir():
        raise data_error(directory, "no such snapshot directory", DATA_UNREADABLE)
    connection = duckdb.connect(database)
    users_path = _table_file(directory, "users", required=True)
    users, warnings = _checked_users(read_file(users_path, "users file", frozenset(STANDARD_USER_COLUMNS)))
    connection.register("snapshot_users", users)
    connection.execute("CREATE OR REPLACE TABLE users AS SELECT * FROM snapshot_users")
    connection.unregister("snapshot_users")
    warnings += _load_memberships(connection, _table_file(directory, "memberships", required=False), users_path)
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
        attribute_columns=[name for name in columns if name not in STANDARD_USER_COLUMNS],
        teams=frozenset(row[0] for row in connection.execute("SELECT DISTINCT team FROM memberships").fetchall()),
        user_ids=frozenset(users.column(USER_ID_COLUMN).to_pylist()),
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
        raise data_error(
            directory,
            f"two files for table `{table}` ({found[0].name} and {found[1].name})",
            DATA_UNREADABLE,
            hint="keep one",
        )
    if not found and required:
        raise data_error(
            directory, f"no `{table}` file", DATA_UNREADABLE, hint=f"add {table}.csv (or .parquet, .json, .jsonl)"
        )
    return found[0] if found else None


# ------------------------------------------------------------------ users


def _checked_users(read: Read) -> tuple[pa.Table, list[Diagnostic]]:
    """The users table in its normal shape, every built-in column checked; warnings for attribute columns
    with no value."""
    require_columns(read, (USER_ID_COLUMN,), "every user needs an id")
    require_columns(read, (USER_STATUS_COLUMN,), "each user's status is online, away or offline")
    table = with_id_column(read, USER_ID_COLUMN, "user", required=True)
    reject_duplicate_ids(read, table.column(USER_ID_COLUMN), "user")
    count = table.num_rows
    columns: dict[str, pa.Array | pa.ChunkedArray] = {USER_ID_COLUMN: table.column(USER_ID_COLUMN)}
    for name in list(USER_COLUMN_TYPES)[1:]:
        if name not in table.column_names:  # an optional column (status is required)
            default = OPTIONAL_USER_COLUMNS[name]
            columns[name] = pa.array([default] * count, USER_COLUMN_TYPES[name])
            continue
        columns[name] = _built_in_column(read, table.column(name), name)
    _check_statuses(read, columns[USER_STATUS_COLUMN])
    warnings = []
    for name in table.column_names:
        if name in columns:
            continue
        column = table.column(name)
        if pa.types.is_null(column.type):
            # No value: no kind either, so `rota check --snapshot` does not type it.
            column = json_array([None] * count)
            warnings.append(
                data_warning(
                    read.rows.path,
                    f"column `{name}` holds no value in any row: every user's `{name}` is null",
                    DATA_NO_VALUES,
                    column=read.column_number(name),
                )
            )
        columns[name] = column
    return pa.table(columns), warnings


def _built_in_column(read: Read, column: pa.ChunkedArray, name: str) -> pa.Array | pa.ChunkedArray:
    """A built-in user column in its type; an empty cell is the column's default."""
    want = USER_COLUMN_KINDS.get(name)
    arrow_type = USER_COLUMN_TYPES[name]
    if want is not None and read.rows.path.suffix.lower() == ".csv":
        column = CsvColumn(read.rows.path, name, read.column_number(name), read.rows).typed(column, want)
    elif not (column.type == arrow_type or pa.types.is_null(column.type)):
        column = _typed_by_value(read, column, name, arrow_type)
    column = pc.cast(column, arrow_type)
    default = OPTIONAL_USER_COLUMNS.get(name)
    if default is not None:
        column = pc.fill_null(column, pa.scalar(default, arrow_type))
    if name == "open_contacts" and pc.any(pc.less(column, 0)).as_py():
        index = pc.index(pc.less(column, 0), True).as_py()
        raise _bad_value(read, name, index, column[index].as_py(), "must hold whole numbers >= 0")
    return column


def _typed_by_value(read: Read, column: pa.ChunkedArray, name: str, arrow_type: pa.DataType) -> pa.Array:
    """A typed file's column (JSON, Parquet) in the type the built-in needs, value by value:
    whole numbers for counts, ISO 8601 text for times (JSON has no times); anything else stops."""
    values = column_values(column)
    needs = {
        pa.string(): ("must hold text", lambda value: isinstance(value, str)),
        pa.bool_(): ("must hold true or false", lambda value: isinstance(value, bool)),
        pa.int64(): ("must hold whole numbers", _whole),
        pa.timestamp("us"): ("must hold times (ISO 8601)", lambda value: isinstance(value, str)),
    }[arrow_type]
    for index, value in enumerate(values):
        if value is not None and not needs[1](value):
            raise _bad_value(read, name, index, value, needs[0], as_json=True)
    if arrow_type == pa.timestamp("us"):
        return _times(read, name, values)
    return pa.array(
        [None if value is None else int(value) if arrow_type == pa.int64() else value for value in values], arrow_type
    )


def _whole(value: object) -> bool:
    return not isinstance(value, bool) and (isinstance(value, int) or (isinstance(value, float) and value.is_integer()))


def _times(read: Read, name: str, texts: list) -> pa.Array:
    return CsvColumn(read.rows.path, name, read.column_number(name), read.rows).typed(
        pa.chunked_array([pa.array(texts, pa.string())]), "timestamp"
    )


def _check_statuses(read: Read, statuses: pa.Array | pa.ChunkedArray) -> None:
    known = pc.is_in(statuses, pa.array(STATUSES)).to_pylist()
    if not all(known):
        index = known.index(False)
        status = statuses[index].as_py()
        raise data_error(
            read.rows.path,
            f"unknown status `{status}`" if status is not None else "this user has no status",
            DATA_BAD_VALUE,
            read.rows.line(index),
            read.column_number(USER_STATUS_COLUMN),
            hint="use online, away or offline",
        )


def _bad_value(read: Read, name: str, index: int, value: object, needs: str, as_json: bool = False):
    return data_error(
        read.rows.path,
        f"column `{name}` {needs}, not {shown(value, as_json)}",
        DATA_BAD_VALUE,
        read.rows.line(index),
        read.column_number(name),
    )


# ------------------------------------------------------ memberships, rotation


def _load_memberships(connection: duckdb.DuckDBPyConnection, path: Path | None, users_path: Path) -> list[Diagnostic]:
    connection.execute("CREATE OR REPLACE TABLE memberships (team VARCHAR NOT NULL, user_id VARCHAR NOT NULL)")
    if path is None:
        return []
    read = read_file(path, "memberships file", frozenset({"team", "user_id"}))
    require_columns(read, ("team", "user_id"), "memberships need `team` and `user_id`")
    table = with_id_column(read, "team", "membership", required=True)
    table = with_id_column(read, "user_id", "membership", required=True, table=table)
    table = table.select(["team", "user_id"]).append_column("position", pa.array(range(table.num_rows), pa.int64()))
    connection.register("snapshot_memberships", table)
    unknown = connection.execute(
        "SELECT count(*), min(position) FROM snapshot_memberships WHERE user_id NOT IN (SELECT id FROM users)"
    ).fetchone()
    connection.execute(
        "INSERT INTO memberships SELECT DISTINCT team, user_id FROM snapshot_memberships "
        "WHERE user_id IN (SELECT id FROM users)"
    )
    connection.unregister("snapshot_memberships")
    assert unknown is not None  # an aggregate query gives one row
    count, first = unknown
    if not count:
        return []
    line = read.rows.line(first)
    return [
        data_warning(
            path,
            f"{count} membership{'s' * (count != 1)} of users not in {users_path.name} left out "
            f"(the first: user `{table.column('user_id')[first].as_py()}`, {row_word(path)} {line})",
            DATA_DROPPED,
            line,
            read.column_number("user_id"),
        )
    ]


def _load_rotation(connection: duckdb.DuckDBPyConnection, path: Path | None) -> None:
    connection.execute("CREATE OR REPLACE TABLE rotation (pool VARCHAR NOT NULL, last_user VARCHAR NOT NULL)")
    if path is None:
        return
    read = read_file(path, "rotation file", frozenset({"pool", "last_user"}))
    require_columns(read, ("pool", "last_user"), "rotation needs `pool` and `last_user`")
    table = with_id_column(read, "pool", "cursor", required=True)
    table = with_id_column(read, "last_user", "cursor", required=True, table=table)
    reject_duplicate_ids(read, table.column("pool"), "pool")
    connection.register("snapshot_rotation", table.select(["pool", "last_user"]))
    connection.execute("INSERT INTO rotation SELECT pool, last_user FROM snapshot_rotation")
    connection.unregister("snapshot_rotation")
