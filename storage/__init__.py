"""Snapshots, file formats and the engine's store (DuckDB): rota.storage.

Knows tables and rows, nothing of the policy language.
"""

from .engine_store import Changes, EngineStore
from .files import StorageError, read_contacts, read_events, write_table
from .snapshot import Snapshot, load_snapshot

__all__ = [
    "Changes",
    "EngineStore",
    "Snapshot",
    "StorageError",
    "load_snapshot",
    "read_contacts",
    "read_events",
    "write_table",
]
