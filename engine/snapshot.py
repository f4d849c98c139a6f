"""The engine's view of a snapshot loaded by rota.storage into DuckDB.

storage owns the tables (`users`, `memberships`, `rotation`); this module
reads them into a Roster, adds the `teams` list the language offers on every
user, and tells the compiler what kind of value each column holds.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from rota.dsl.types import SnapshotSchema
from rota.storage import is_json_type
from rota.storage.kinds import decode_json_texts
from rota.vocabulary import (
    STANDARD_USER_COLUMNS,
    USER_DELETED_COLUMN,
    USER_ID_COLUMN,
    USER_LAST_ASSIGNED_COLUMN,
    USER_NAME_COLUMN,
    USER_OPEN_COLUMN,
    USER_STATUS_COLUMN,
    USER_TEAMS_COLUMN,
    Kind,
)

from .roster import Roster, User
from .sql import kind_of_duckdb_type, quote_identifier

USERS_VIEW = "rota_users"


def user_columns(connection: duckdb.DuckDBPyConnection) -> dict[str, str]:
    rows = connection.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = 'users' ORDER BY ordinal_position"
    ).fetchall()
    return dict(rows)


def user_kinds(connection: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return {name: kind_of_duckdb_type(type_name) for name, type_name in user_columns(connection).items()}


def contact_kinds(schema: pa.Schema) -> dict[str, str]:
    return {field.name: _kind_of_arrow_type(field.type) for field in schema}


def _kind_of_arrow_type(arrow_type: pa.DataType) -> str:
    if is_json_type(arrow_type):
        return "json"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "string"
    if pa.types.is_boolean(arrow_type):
        return "bool"
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "number"
    if pa.types.is_timestamp(arrow_type) or pa.types.is_date(arrow_type):
        return "timestamp"
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return "list:" + _kind_of_arrow_type(arrow_type.value_type)
    if pa.types.is_null(arrow_type):
        return "null"
    return "other"


def create_users_view(connection: duckdb.DuckDBPyConnection) -> None:
    """`rota_users`: the users with their sorted team names, as `user.teams` reads them."""
    teams = quote_identifier(USER_TEAMS_COLUMN)
    exclude = f" EXCLUDE ({teams})" if USER_TEAMS_COLUMN in user_columns(connection) else ""
    connection.execute(
        f"CREATE OR REPLACE TEMP VIEW {USERS_VIEW} AS SELECT u.*{exclude}, "
        f"coalesce(m.teams, CAST([] AS VARCHAR[])) AS {teams} FROM users u LEFT JOIN "
        "(SELECT user_id, list(team ORDER BY team) AS teams FROM memberships GROUP BY user_id) m "
        "ON m.user_id = u.id"
    )


def load_roster(connection: duckdb.DuckDBPyConnection) -> Roster:
    """Users, memberships and cursors as the routing state; a JSON column's values keep their own kinds."""
    users_table = connection.sql("SELECT * FROM users ORDER BY id").to_arrow_table()
    kinds = user_columns(connection)
    values = {
        name: decode_json_texts(column.to_pylist()) if kinds.get(name) == "JSON" else column.to_pylist()
        for name, column in zip(users_table.column_names, users_table.columns)
    }
    attribute_names = [name for name in values if name not in STANDARD_USER_COLUMNS and name != USER_TEAMS_COLUMN]
    users = [
        User(
            id=values[USER_ID_COLUMN][index],
            name=values[USER_NAME_COLUMN][index],
            status=values[USER_STATUS_COLUMN][index],
            deleted=bool(values[USER_DELETED_COLUMN][index]),
            open=int(values[USER_OPEN_COLUMN][index]),
            last_assigned_at=values[USER_LAST_ASSIGNED_COLUMN][index],
            attributes={name: values[name][index] for name in attribute_names},
        )
        for index in range(users_table.num_rows)
    ]
    memberships = connection.execute("SELECT team, user_id FROM memberships ORDER BY team, user_id").fetchall()
    cursors = dict(connection.execute("SELECT pool, last_user FROM rotation").fetchall())
    return Roster.build(users, memberships, cursors)


SCHEMA_TYPES = {
    "string": Kind.STRING,
    "number": Kind.DECIMAL,
    "bool": Kind.BOOL,
    "timestamp": Kind.TIMESTAMP,
}


def snapshot_schema(connection: duckdb.DuckDBPyConnection) -> SnapshotSchema:
    """What `rota check --snapshot` checks fields, teams and users against."""
    columns = {}
    for name, type_name in user_columns(connection).items():
        kind = kind_of_duckdb_type(type_name)
        if kind.startswith("list:"):
            columns[name] = Kind.LIST
        elif kind == "number":
            columns[name] = Kind.INT if "INT" in type_name.upper() else Kind.DECIMAL
        else:
            columns[name] = SCHEMA_TYPES.get(kind, Kind.UNKNOWN)
    teams = frozenset(row[0] for row in connection.execute("SELECT DISTINCT team FROM memberships").fetchall())
    user_ids = frozenset(row[0] for row in connection.execute("SELECT id FROM users").fetchall())
    return SnapshotSchema(user_columns=columns, teams=teams, user_ids=user_ids)
