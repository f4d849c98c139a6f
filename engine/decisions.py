"""What routing decides, as small frozen values (SPEC 3 and 5.1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rota.vocabulary import Outcome, Reason

from .clock import format_instant

# Plain text (what the journal, DuckDB and JSON hold), bound once: routing compares and stores these.
ASSIGNED = Outcome.ASSIGNED.value
QUEUED = Outcome.QUEUED.value
UNASSIGNED = Outcome.UNASSIGNED.value
FAILED = Outcome.FAILED.value
NO_ROUTE = Outcome.NO_ROUTE.value
TIMED_OUT = Outcome.TIMED_OUT.value
RELEASED = Outcome.RELEASED.value
OUTCOMES = Outcome.texts()

# Reasons: on `assigned` the logic that chose (a route's `using`), on `failed` what went wrong.
BY_USER = Reason.USER.value
USER_NOT_FOUND = Reason.USER_NOT_FOUND.value
USER_DELETED = Reason.USER_DELETED.value
TEAM_EMPTY = Reason.TEAM_EMPTY.value
SPACE_EMPTY = Reason.SPACE_EMPTY.value
TIMEOUT = Reason.TIMEOUT.value
USER_RELEASED = Reason.USER_RELEASED.value

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
