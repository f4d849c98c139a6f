"""The kinds of value a policy's expressions can have, for type checks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rota.vocabulary import Kind

# The language's name for the kinds of rota.vocabulary: one enum, two names.
ValueType = Kind


@dataclass(frozen=True)
class SnapshotSchema:
    """What a snapshot tells the checker: user columns and their types, teams, user ids."""

    user_columns: Mapping[str, Kind]
    teams: frozenset[str] | None = None
    user_ids: frozenset[str] | None = None
