"""What routing decides, as small frozen values (SPEC 3 and 5.1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .clock import format_instant

ASSIGNED = "assigned"
QUEUED = "queued"
UNASSIGNED = "unassigned"
FAILED = "failed"
NO_ROUTE = "no_route"
TIMED_OUT = "timed_out"
OUTCOMES = (ASSIGNED, QUEUED, UNASSIGNED, FAILED, NO_ROUTE, TIMED_OUT)

# Reasons: on `assigned` the logic that chose, on `failed` what went wrong.
BY_USER = "user"
USER_NOT_FOUND = "user_not_found"
USER_DELETED = "user_deleted"
TEAM_EMPTY = "team_empty"
SPACE_EMPTY = "space_empty"
TIMEOUT = "timeout"

BATCH_COLUMNS = ("contact", "route", "outcome", "user", "reason", "deadline")
REPLAY_COLUMNS = ("at",) + BATCH_COLUMNS


@dataclass(frozen=True)
class Decision:
    contact: str
    route: str | None
    outcome: str
    user: str | None = None
    reason: str | None = None
    deadline: datetime | None = None
    at: datetime | None = None
    # How many users were eligible: for the audit log, not part of the row.
    candidates: int | None = field(default=None, compare=False)

    def row(self) -> dict[str, Any]:
        """The replay row of SPEC 5.1, times as ISO 8601 in UTC."""
        return dict(zip(REPLAY_COLUMNS, self.row_values()))

    def row_values(self) -> tuple:
        """The replay row's values, in the order of REPLAY_COLUMNS."""
        return (
            format_instant(self.at),
            self.contact,
            self.route,
            self.outcome,
            self.user,
            self.reason,
            format_instant(self.deadline),
        )
