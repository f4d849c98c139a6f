"""Engine files of the build before SPEC 4.1's state moved into the contacts' rows (its version string is also
0.1.0): it kept release timers in a `release_timers` table, released users in `released_users`, and its
journal records carry both as `timers` and `released`. Opening such a file moves them into the contacts'
columns and drops the tables, in the transaction that folds its journal: nothing of them is lost."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rota.vocabulary import ReassignTrigger

# That build's tables, made again only for a journal record of it in a file that somehow lacks them.
LEGACY_SCHEMA = """
CREATE TABLE IF NOT EXISTS release_timers (
    contact VARCHAR NOT NULL, "trigger" VARCHAR NOT NULL, route VARCHAR NOT NULL, seconds BIGINT NOT NULL,
    assignee VARCHAR NOT NULL, assignment BIGINT NOT NULL, due TIMESTAMP, armed BIGINT NOT NULL,
    PRIMARY KEY (contact, "trigger"));
CREATE TABLE IF NOT EXISTS released_users (
    contact VARCHAR NOT NULL, user_id VARCHAR NOT NULL, PRIMARY KEY (contact, user_id));
"""
TIMERS_TABLE, RELEASED_TABLE = "release_timers", "released_users"
TIMER_ROW = ("contact", "trigger", "route", "seconds", "assignee", "assignment", "due", "armed")
RELEASED_ROW = ("contact", "user_id")


@dataclass
class LegacyJournal:
    """What that build's journal records say of timers and released users: per contact all of them, the
    last record's kept (as that build folded them)."""

    timers: dict[str, list[tuple]] = field(default_factory=dict)
    released: dict[str, list[str]] = field(default_factory=dict)
    found: bool = False

    def take(self, record: dict[str, Any]) -> dict[str, Any]:
        """`record` without that build's keys, which are kept here."""
        if "timers" in record or "released" in record:
            self.found = True
            self.timers.update(record.pop("timers", {}))
            self.released.update(record.pop("released", {}))
        return record

    def rows(self) -> list[tuple[str, tuple[str, ...], dict[str, list[tuple]]]]:
        """(table, its columns, per contact its rows): what that build wrote at the fold."""
        released = {contact: [(contact, user) for user in users] for contact, users in self.released.items()}
        return [(TIMERS_TABLE, TIMER_ROW, self.timers), (RELEASED_TABLE, RELEASED_ROW, released)]


def moving_statements(timer_parts: tuple[str, ...]) -> list[tuple[str, list[Any]]]:
    """The statements (SQL, parameters) that move the two tables into the contacts' columns, then drop them.
    The timer columns are `{trigger}_{part}`, each part a column of `release_timers` of the same name; a
    contact's timers share their route and assignment (one assignment set them)."""
    triggers = ReassignTrigger.texts()
    pivoted = ", ".join(
        f'max({part}) FILTER (WHERE "trigger" = ?) AS {trigger}_{part}' for trigger in triggers for part in timer_parts
    )
    columns = ", ".join(
        ["timer_route = moved.route", "timer_assignment = moved.assignment"]
        + [f"{trigger}_{part} = moved.{trigger}_{part}" for trigger in triggers for part in timer_parts]
    )
    return [
        (
            "UPDATE contacts SET released = moved.users FROM (SELECT contact, list(user_id ORDER BY user_id) AS users"
            f" FROM {RELEASED_TABLE} GROUP BY contact) AS moved WHERE contacts.id = moved.contact",
            [],
        ),
        (
            f"UPDATE contacts SET {columns} FROM (SELECT contact, any_value(route) AS route, any_value(assignment)"
            f" AS assignment, {pivoted} FROM {TIMERS_TABLE} GROUP BY contact) AS moved"
            " WHERE contacts.id = moved.contact",
            [trigger for trigger in triggers for _ in timer_parts],
        ),
        (f"DROP TABLE {TIMERS_TABLE}", []),
        (f"DROP TABLE {RELEASED_TABLE}", []),
    ]
