"""The built-in names of rota, each defined once (SPEC 1-5).

Statuses, weekdays, outcomes, reasons, route kinds, logics, scopes, the
built-in fields of users, contacts and `now` with the kind of value each
holds, and the snapshot's optional columns with their defaults. The
language, the engine, storage, rota.testing, simulate and the service read
them from here; none of them writes one of these names out as a string.

The enums are `str` enums: a member equals its text (`Status.ONLINE ==
"online"`), so values read from files and JSON compare with them directly.
What is stored or sent (DuckDB rows, journal bodies, JSON) is always the
plain text, `member.value`.

This module is a leaf: it imports nothing of rota.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from types import MappingProxyType


class Name(str, Enum):
    """A built-in name: prints and formats as its text."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)

    @classmethod
    def texts(cls) -> tuple[str, ...]:
        return tuple(member.value for member in cls)


class Status(Name):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


# A user created by a `user` event without a status (SPEC 5.1) is offline.
NEW_USER_STATUS = Status.OFFLINE


class Weekday(Name):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


class EventType(Name):
    """The `type` of a replay event (SPEC 5.1) and of the service's changes."""

    ROUTE = "route"
    STATUS = "status"
    CLOSE = "close"
    USER = "user"
    DELETE = "delete"
    JOIN = "join"
    LEAVE = "leave"
    REPLY = "reply"  # SPEC 4.1: the user replied to the contact


class Verdict(Name):
    """Why one user was or was not chosen for a contact (`rota explain --user`)."""

    CHOSEN = "chosen"
    UNKNOWN = "unknown"
    DELETED = "deleted"
    NO_POOL = "no_pool"
    NOT_IN_POOL = "not_in_pool"
    FILTERED = "filtered"
    RELEASED = "released"
    LOST = "lost"


class Outcome(Name):
    ASSIGNED = "assigned"
    QUEUED = "queued"
    UNASSIGNED = "unassigned"
    FAILED = "failed"
    NO_ROUTE = "no_route"
    TIMED_OUT = "timed_out"
    RELEASED = "released"  # a release timer fired (SPEC 4.1)


class ReassignTrigger(Name):
    """What a `reassign when TRIGGER D` option watches (SPEC 2.2, 4.1); in this order its timers are set."""

    UNANSWERED = "unanswered"  # no reply by the assignee within D
    AWAY = "away"  # the assignee not online for D


class Reason(Name):
    # on `assigned`: what chose the user
    USER = "user"
    ROUND_ROBIN = "round_robin"
    LEAST_OPEN = "least_open"
    # on `failed`: what went wrong
    USER_NOT_FOUND = "user_not_found"
    USER_DELETED = "user_deleted"
    TEAM_EMPTY = "team_empty"
    SPACE_EMPTY = "space_empty"
    TIMEOUT = "timeout"
    USER_RELEASED = "user_released"  # `assign to user` names a user the contact was released from
    # on `released`: the trigger whose timer fired
    UNANSWERED = ReassignTrigger.UNANSWERED.value
    AWAY = ReassignTrigger.AWAY.value


class Logic(Name):
    ROUND_ROBIN = "round_robin"
    LEAST_OPEN = "least_open"


DEFAULT_LOGIC = Logic.ROUND_ROBIN


class RouteKind(Name):
    USER = "user"
    TEAM = "team"
    SPACE = "space"
    UNASSIGN = "unassign"


class Scope(Name):
    USER = "user"
    CONTACT = "contact"
    NOW = "now"


class UserField(Name):
    ID = "id"
    NAME = "name"
    STATUS = "status"
    ONLINE = "online"  # status is `online`
    OPEN = "open"  # the `open_contacts` column
    TEAMS = "teams"  # the sorted names of the user's teams
    LAST_ASSIGNED_AT = "last_assigned_at"


class ContactField(Name):
    ID = "id"
    ASSIGNEE = "assignee"


class NowField(Name):
    HOUR = "hour"
    MINUTE = "minute"
    WEEKDAY = "weekday"
    DATE = "date"  # "YYYY-MM-DD", a string: `now.date in ["2026-12-25"]` lists holidays


class Kind(Name):
    """The kind of value a field or column holds."""

    STRING = "string"
    INT = "int"
    DECIMAL = "decimal"
    BOOL = "bool"
    TIMESTAMP = "timestamp"
    LIST = "list"  # of strings
    NULL = "null"
    UNKNOWN = "unknown"


# The pool key of `assign to space` in the rotation table (SPEC 3.4).
SPACE_POOL = "*"
# The branch word that ends a timeout chain (SPEC 2.2).
UNASSIGN_BRANCH = "unassign"

USER_FIELDS: Mapping[str, Kind] = MappingProxyType(
    {
        UserField.ID.value: Kind.STRING,
        UserField.NAME.value: Kind.STRING,
        UserField.STATUS.value: Kind.STRING,
        UserField.ONLINE.value: Kind.BOOL,
        UserField.OPEN.value: Kind.INT,
        UserField.TEAMS.value: Kind.LIST,
        UserField.LAST_ASSIGNED_AT.value: Kind.TIMESTAMP,
    }
)
CONTACT_FIELDS: Mapping[str, Kind] = MappingProxyType(
    {ContactField.ID.value: Kind.STRING, ContactField.ASSIGNEE.value: Kind.STRING}
)
NOW_FIELDS: Mapping[str, Kind] = MappingProxyType(
    {
        NowField.HOUR.value: Kind.INT,
        NowField.MINUTE.value: Kind.INT,
        NowField.WEEKDAY.value: Kind.STRING,
        NowField.DATE.value: Kind.STRING,
    }
)
# User fields that routing itself changes: a filter reading one can change during a pass.
CHANGING_USER_FIELDS = frozenset({UserField.OPEN.value, UserField.LAST_ASSIGNED_AT.value})
# Fields whose every value is known: a comparison with another literal can never hold.
CLOSED_VALUES: Mapping[tuple[str, str], tuple[str, ...]] = MappingProxyType(
    {
        (Scope.USER.value, UserField.STATUS.value): Status.texts(),
        (Scope.NOW.value, NowField.WEEKDAY.value): Weekday.texts(),
    }
)

# The snapshot's users table (SPEC 1): required columns, then optional ones with the value an absent one has.
USER_ID_COLUMN = "id"
USER_STATUS_COLUMN = "status"
USER_NAME_COLUMN = "name"
USER_DELETED_COLUMN = "deleted"
USER_OPEN_COLUMN = "open_contacts"
USER_LAST_ASSIGNED_COLUMN = "last_assigned_at"
OPTIONAL_USER_COLUMNS: Mapping[str, object] = MappingProxyType(
    {
        USER_NAME_COLUMN: None,
        USER_DELETED_COLUMN: False,
        USER_OPEN_COLUMN: 0,
        USER_LAST_ASSIGNED_COLUMN: None,
    }
)
STANDARD_USER_COLUMNS = (USER_ID_COLUMN, USER_STATUS_COLUMN, *OPTIONAL_USER_COLUMNS)
# The column each built-in user field reads (`online` reads status; `teams` comes from the memberships).
USER_FIELD_COLUMNS: Mapping[str, str] = MappingProxyType(
    {
        UserField.ID.value: USER_ID_COLUMN,
        UserField.NAME.value: USER_NAME_COLUMN,
        UserField.STATUS.value: USER_STATUS_COLUMN,
        UserField.OPEN.value: USER_OPEN_COLUMN,
        UserField.LAST_ASSIGNED_AT.value: USER_LAST_ASSIGNED_COLUMN,
    }
)
# The list of a user's team names, as the engine's users view and `user.teams` offer it.
USER_TEAMS_COLUMN = UserField.TEAMS.value
# Keys an event's or a request's `attrs` may not set on a user: the engine keeps them itself.
NOT_USER_ATTRIBUTES = frozenset(
    {USER_ID_COLUMN, UserField.OPEN.value, USER_OPEN_COLUMN, USER_TEAMS_COLUMN, USER_LAST_ASSIGNED_COLUMN}
)
# A contact's optional built-in column (SPEC 5.1): absent, the contact has no assignee.
CONTACT_ID_COLUMN = ContactField.ID.value
CONTACT_ASSIGNEE_COLUMN = ContactField.ASSIGNEE.value
