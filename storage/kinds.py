"""The kind of a value and of a column, decided once for every path (README "The snapshot").

A value's kind is what comparisons go by: values of different kinds compare
as null. `value_kind` decides it for the Python evaluator, the SQL compiler
and the readers alike. A column whose values share one kind is typed (so
the batch can compare it in SQL); a column whose values do not share one
(`1` in one row, `"gold"` in another, as JSON allows) is a JSON column:
each value is kept as JSON text with its own kind, decoded when Python
reads it, and never compiled to SQL. Nothing is ever cast to another kind.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from rota.vocabulary import CONTACT_ASSIGNEE_COLUMN, CONTACT_ID_COLUMN, USER_STATUS_COLUMN, Status

STATUSES = Status.texts()  # the statuses a snapshot takes, bound once: a replay checks every `status` event's

# A column of values that have no single kind, each kept with its own (DuckDB's JSON type).
JSON_TYPE = pa.json_(pa.string())
# The built-in contact columns, always present in a batch's contacts table, as text.
CONTACT_COLUMNS = (CONTACT_ID_COLUMN, CONTACT_ASSIGNEE_COLUMN)


def value_kind(value: Any) -> str | None:
    """The comparison family of a runtime value, None for null."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, datetime):
        return "timestamp"
    if isinstance(value, (list, tuple)):
        return "list"
    return "other"


def is_json_type(arrow_type: pa.DataType) -> bool:
    return isinstance(arrow_type, pa.JsonType)


def json_array(values: list[Any]) -> pa.Array:
    """Values of mixed kinds as one JSON column (None stays null)."""
    texts = [None if value is None else json.dumps(value, ensure_ascii=False) for value in values]
    return pa.ExtensionArray.from_storage(JSON_TYPE, pa.array(texts, pa.string()))


SCALAR_TYPES = {"string": pa.string(), "bool": pa.bool_()}


def column_of_values(values: list[Any]) -> pa.Array:
    """JSON values as one column: typed when they share a kind, a JSON column when they do not,
    a null column when there is no value at all. Integers and decimals are both numbers."""
    kinds = {value_kind(value) for value in values} - {None}
    if not kinds:
        return pa.nulls(len(values))
    if len(kinds) == 1:
        kind = next(iter(kinds))
        if kind in SCALAR_TYPES:
            return pa.array(values, SCALAR_TYPES[kind])
        if kind == "number":
            return _numbers(values)
        if kind == "list":
            item_type = _list_item_type([item for value in values if value is not None for item in value])
            if item_type is not None:
                return pa.array(values, pa.list_(item_type))
    return json_array(values)


def _numbers(values: list[Any]) -> pa.Array:
    if all(type(value) is int for value in values if value is not None):
        try:
            return pa.array(values, pa.int64())
        except OverflowError:
            pass
    return pa.array(values, pa.float64())


def _list_item_type(items: list[Any]) -> pa.DataType | None:
    """The type of a typed list's items; None when they mix kinds or are not scalars."""
    kinds = {value_kind(item) for item in items} - {None}
    if not kinds:
        return pa.string()
    if len(kinds) > 1:
        return None
    kind = next(iter(kinds))
    if kind in SCALAR_TYPES:
        return SCALAR_TYPES[kind]
    if kind == "number":
        return _numbers(items).type
    return None


def normalized_column(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """A typed column (Parquet, JSON) in the types the engine compares: times as naive UTC
    microseconds, dates as times, decimals as floats, dictionary and large types as plain ones,
    lists of nothing as lists of text."""
    arrow_type = column.type
    if pa.types.is_dictionary(arrow_type):
        return normalized_column(pc.cast(column, arrow_type.value_type))
    if pa.types.is_timestamp(arrow_type):
        if arrow_type.tz is not None:
            column = pc.cast(column, pa.timestamp(arrow_type.unit, "UTC"))
        return pc.cast(column, pa.timestamp("us"))
    if pa.types.is_date(arrow_type):
        return pc.cast(pc.cast(column, pa.date32()), pa.timestamp("us"))
    if pa.types.is_decimal(arrow_type):
        return pc.cast(column, pa.float64())
    if pa.types.is_large_string(arrow_type) or pa.types.is_string_view(arrow_type):
        return pc.cast(column, pa.string())
    if pa.types.is_large_list(arrow_type):
        return normalized_column(pc.cast(column, pa.list_(arrow_type.value_type)))
    if pa.types.is_list(arrow_type):
        if pa.types.is_null(arrow_type.value_type):
            return pc.cast(column, pa.list_(pa.string()))
        if pa.types.is_large_string(arrow_type.value_type) or pa.types.is_dictionary(arrow_type.value_type):
            return pc.cast(column, pa.list_(pa.string()))
    return column


def column_values(column: pa.ChunkedArray | pa.Array) -> list[Any]:
    """A column's values in Python, each with its own kind (a JSON column is decoded)."""
    if not is_json_type(column.type):
        return column.to_pylist()
    storage = (
        column.storage
        if isinstance(column, pa.ExtensionArray)
        else pa.chunked_array([chunk.storage for chunk in column.chunks], pa.string())
    )
    return decode_json_texts(storage.to_pylist())


def decode_json_texts(texts: list[str | None]) -> list[Any]:
    decoded: dict[str, Any] = {}
    values: list[Any] = []
    for text in texts:
        if text is None:
            values.append(None)
            continue
        if text not in decoded:
            decoded[text] = json.loads(text)
        values.append(decoded[text])
    return values


def contact_attributes(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """A routed contact's attrs (a `route` event, the service): values keep their own kind,
    as in a JSON contacts file; `assignee` is a user id, so text, as the batch reads it. A dict that needs
    no change is returned itself, not copied for every routed contact: nothing changes a contact's attributes in
    place (a new value replaces the dict)."""
    assignee = attrs.get(CONTACT_ASSIGNEE_COLUMN)
    if assignee is None or isinstance(assignee, str):
        return attrs if isinstance(attrs, dict) else dict(attrs)
    if isinstance(assignee, (bool, float, list, dict)):
        raise ValueError(f"`{CONTACT_ASSIGNEE_COLUMN}` must be a user id (text), got {json.dumps(assignee)}")
    return {**attrs, CONTACT_ASSIGNEE_COLUMN: str(assignee)}


def user_attributes(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """A `user` event's attrs (and the service's): values keep their own kind, and the built-in
    columns a snapshot checks are checked alike: `deleted` is true or false, `name` is text."""
    attributes = dict(attrs)
    deleted = attributes.get("deleted")
    if deleted is not None and not isinstance(deleted, bool):
        raise ValueError(f"`deleted` must be true or false, got {json.dumps(deleted)}")
    name = attributes.get("name")
    if name is not None and not isinstance(name, str):
        raise ValueError(f"`name` must be text, got {json.dumps(name)}")
    if attributes.get(USER_STATUS_COLUMN) is not None:
        attributes[USER_STATUS_COLUMN] = known_status(attributes[USER_STATUS_COLUMN])
    return attributes


def known_status(status: Any) -> str:
    """A status as a snapshot takes it (SPEC 1): one of online, away, offline."""
    if status not in STATUSES:
        raise ValueError(f"unknown status {json.dumps(status)}; use {', '.join(Status.texts())}")
    return str(status)
