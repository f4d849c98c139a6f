"""The kinds of value a policy's expressions can have, for type checks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum


class ValueType(str, Enum):
    STRING = "string"
    INT = "int"
    DECIMAL = "decimal"
    BOOL = "bool"
    TIMESTAMP = "timestamp"
    LIST = "list"
    NULL = "null"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class SnapshotSchema:
    """What a snapshot tells the checker: user columns and their types, teams, user ids."""

    user_columns: Mapping[str, ValueType]
    teams: frozenset[str] | None = None
    user_ids: frozenset[str] | None = None
