"""Snapshots, file formats and the engine's store (DuckDB): rota.storage.

Knows tables and rows, nothing of the policy language. Every data file is
read through one path (readers.py), which decides each column's kind by the
rules of kinds.py; every problem in a file is a StorageError carrying a
Diagnostic that names the file, the row and the column.
"""

from typing import TYPE_CHECKING

from rota.lazy import lazy_names

from .errors import StorageError, Warn
from .files import read_contacts, read_events, with_contact_columns, write_table
from .kinds import column_values, contact_attributes, is_json_type, user_attributes, value_kind
from .snapshot import Snapshot, load_snapshot

if TYPE_CHECKING:  # imported when first used (__getattr__ below): `rota batch` never opens an engine file
    from .engine_store import Changes, EngineStore

__getattr__ = lazy_names(globals(), {".engine_store": ("Changes", "EngineStore")})

__all__ = [
    "Changes",
    "EngineStore",
    "Snapshot",
    "StorageError",
    "Warn",
    "column_values",
    "contact_attributes",
    "is_json_type",
    "load_snapshot",
    "read_contacts",
    "read_events",
    "user_attributes",
    "value_kind",
    "with_contact_columns",
    "write_table",
]
