"""What a snapshot tells the type checker: the kind of each user column (rota.vocabulary.Kind), teams, user ids."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rota.vocabulary import Kind


@dataclass(frozen=True)
class SnapshotSchema:
    """What a snapshot tells the checker: user columns and their types, teams, user ids. A live roster
    (the service's) gives teams and ids only: its users' attributes have no declared columns (None)."""

    user_columns: Mapping[str, Kind] | None
    teams: frozenset[str] | None = None
    user_ids: frozenset[str] | None = None
