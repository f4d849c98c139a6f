"""Time as the engine sees it: naive datetimes in UTC, as DuckDB stores them.

The clock is always given to the engine, never read inside it.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import overload
from zoneinfo import ZoneInfo

from rota.vocabulary import NowField, Weekday

WEEKDAYS = Weekday.texts()  # Monday first, as datetime.weekday() counts
HOUR, MINUTE, WEEKDAY, DATE = (
    field.value for field in (NowField.HOUR, NowField.MINUTE, NowField.WEEKDAY, NowField.DATE)
)


def to_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def parse_instant(text: str) -> datetime:
    """ISO 8601 (`Z` or an offset allowed; no zone means UTC) as naive UTC."""
    text = text.strip()
    if text.endswith("Z"):  # the usual form, read as naive at once (a replay parses every event's time)
        try:
            moment = datetime.fromisoformat(text[:-1])
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is None:
            return moment
    return to_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))


@overload
def format_instant(moment: datetime) -> str: ...
@overload
def format_instant(moment: None) -> None: ...
@overload
def format_instant(moment: datetime | None) -> str | None: ...
def format_instant(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    text = moment.isoformat(timespec="microseconds" if moment.microsecond else "seconds")
    return text + "Z"


def now_fields(moment: datetime, zone: ZoneInfo | None) -> dict[str, object]:
    """The `now.*` fields of SPEC 2.3, in the policy's timezone (UTC by default)."""
    local = moment.replace(tzinfo=timezone.utc)
    if zone is not None:
        local = local.astimezone(zone)
    return {HOUR: local.hour, MINUTE: local.minute, WEEKDAY: WEEKDAYS[local.weekday()], DATE: local.date().isoformat()}


def span_of(seconds: int) -> timedelta:
    """A duration of the language (whole seconds) as the engine adds it to an instant."""
    return timedelta(seconds=seconds)


def deadline_after(moment: datetime, seconds: int) -> datetime:
    return moment + span_of(seconds)
