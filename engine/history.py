"""The service's history: the inputs it applied, the state it started from, and replays of both.

An input is a SPEC 5.1 event (as its JSON line) or a policy activation (`policy`,
naming a version). A *state* is everything the engine holds at an instant, as
plain JSON: users (with their open counts and the order of their last
assignments), memberships, rotation cursors, and every contact it knows (held,
queued with its place and deadline, or closed; the users it was released from and
its release timers). From the state at the start of
the history and the inputs since, `state_at` rebuilds the engine at any later
instant, and `run_inputs` replays a window exactly as the service ran it:
timeouts due before an input fire first, as `Engine.handle` fires them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from rota.storage.engine_store import decode_attributes, encode_attributes
from rota.vocabulary import (
    CONTACT_FIELDS,
    STANDARD_USER_COLUMNS,
    USER_DELETED_COLUMN,
    USER_ID_COLUMN,
    USER_LAST_ASSIGNED_COLUMN,
    USER_NAME_COLUMN,
    USER_OPEN_COLUMN,
    USER_STATUS_COLUMN,
    EventType,
    HistoryEventType,
)

from .clock import format_instant, parse_instant
from .compiler import CompiledPolicy
from .decisions import Decision
from .queue import QueueEntry
from .releases import ReleaseTimer
from .roster import NEVER_ASSIGNED, Roster, User
from .router import Contact
from .scheduler import Engine, Event, event_from_record

POLICY_EVENT = HistoryEventType.POLICY.value
# What a plain replay says of a `policy` line (engine.replay).
POLICY_ONLY_IN_AN_EXPORT = "a `policy` event is read only from an export: run `rota replay --export DIR`"
# An event's fields as its JSON line names them (SPEC 5.1), in that order.
_EVENT_FIELDS = ("contact", "user", "team", "status")
_EVENTS_WITH_ATTRS = (EventType.ROUTE.value, EventType.USER.value)


@dataclass(frozen=True)
class PolicySwitch:
    """A policy version taking effect at `at` (between two decisions, as the service's PUT /v1/policy)."""

    at: datetime
    version: str


Input = Event | PolicySwitch


class HistoryError(ValueError):
    """A window the kept history does not hold, said in one line with what to give instead."""


Policies = Callable[[str], CompiledPolicy]  # a compiled version by its name


# ------------------------------------------------------------------ inputs as JSON lines


def input_record(entry: Input) -> dict[str, Any]:
    """The input as its JSON line: a SPEC 5.1 event, or `{"at", "type": "policy", "version"}`."""
    record: dict[str, Any] = {"at": format_instant(entry.at)}
    if isinstance(entry, PolicySwitch):
        record.update(type=POLICY_EVENT, version=entry.version)
        return record
    record["type"] = entry.type
    record.update((name, getattr(entry, name)) for name in _EVENT_FIELDS if getattr(entry, name) is not None)
    if entry.type in _EVENTS_WITH_ATTRS:
        record["attrs"] = entry.attrs
    return record


def input_line(entry: Input) -> str:
    return json.dumps(input_record(entry), ensure_ascii=False, default=_plain)


def input_from_record(record: dict[str, Any], versions: Iterable[str]) -> Input:
    """A JSON line read back; ValueError says what is wrong. A `policy` line must name one of `versions`
    (the versions at hand)."""
    if record.get("type") != POLICY_EVENT:
        return event_from_record(record)
    version = record.get("version")
    if not isinstance(version, str) or version not in set(versions):
        raise ValueError(f"policy version {version!r} is not among the export's policies/ folders; export it again")
    try:
        return PolicySwitch(parse_instant(str(record["at"])), version)
    except (KeyError, ValueError):
        raise ValueError(f"`at` must be an ISO 8601 time, got {record.get('at')!r}") from None


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_instant(value)
    raise TypeError(f"{type(value).__name__} is not a JSON value")


# ------------------------------------------------------------------ replaying inputs


def run_inputs(engine: Engine, inputs: Iterable[Input], policies: Policies) -> list[Decision]:
    """Apply inputs in order, as the service applied them; a policy switch fires the timeouts due before it."""
    decisions: list[Decision] = []
    for entry in inputs:
        if isinstance(entry, PolicySwitch):
            decisions += engine.advance(entry.at, inclusive=False)
            engine.use_policy(policies(entry.version))
        else:
            decisions += engine.handle(entry)
    return decisions


def state_at(base: Mapping[str, Any], inputs: Iterable[Input], policies: Policies, since: datetime) -> Engine:
    """The engine as it stood at `since`: the base state, every input before `since`, the timeouts due before it."""
    engine = engine_from_state(base, policies(base["policy"]))
    run_inputs(engine, (entry for entry in inputs if entry.at < since), policies)
    engine.advance(since, inclusive=False)
    return engine


# ------------------------------------------------------------------ states as JSON


def state_of(engine: Engine, at: datetime) -> dict[str, Any]:
    """Everything the engine holds, as plain JSON (the tables of an export's snapshot folder)."""
    roster = engine.roster
    users = sorted(roster.users.values(), key=lambda user: user.id)
    assigned = sorted((user for user in users if user.assigned_order != NEVER_ASSIGNED), key=_assignment_order)
    entries, timers = engine.queue.entries, engine.releases.timers
    return {
        "at": format_instant(at),
        "policy": engine.policy.version,
        "users": [_user_record(user) for user in users],
        "memberships": [
            {"team": team, "user_id": user_id}
            for team in sorted(roster.members)
            for user_id in sorted(roster.members[team])
        ],
        "rotation": [{"pool": pool, "last_user": user} for pool, user in sorted(roster.cursors.items())],
        "contacts": [
            _contact_record(state.contact, state.closed, entries.get(contact_id), timers.get(contact_id, {}))
            for contact_id, state in sorted(engine.contacts.items())
        ],
        "engine": {
            "assignment_order": [user.id for user in assigned],
            "next_sequence": engine.queue.next_sequence,
            "next_timer_order": engine.releases.next_order,
        },
    }


def engine_from_state(state: Mapping[str, Any], policy: CompiledPolicy) -> Engine:
    """An engine holding what `state_of` wrote, under `policy`."""
    order = {user_id: rank for rank, user_id in enumerate(state["engine"]["assignment_order"])}
    users = [_user_of(record, order.get(record[USER_ID_COLUMN], NEVER_ASSIGNED)) for record in state["users"]]
    roster = Roster(
        users={user.id: user for user in users},
        cursors={row["pool"]: row["last_user"] for row in state["rotation"]},
        next_order=len(order),
    )
    for row in state["memberships"]:
        roster.join(row["user_id"], row["team"])
    engine = Engine(policy, roster)
    for record in state["contacts"]:
        attributes = decode_attributes(json.dumps(record["attrs"]))
        contact = Contact(record["id"], record.get("assignee"), attributes, frozenset(record.get("released_from", ())))
        engine.restore(contact, bool(record["closed"]), _queue_entry(record))
        for timer in record.get("timers", ()):
            engine.releases.restore(_release_timer(record["id"], timer))
    engine.queue.next_sequence = int(state["engine"]["next_sequence"])
    engine.releases.next_order = max(engine.releases.next_order, int(state["engine"].get("next_timer_order", 0)))
    return engine


def _assignment_order(user: User) -> int:
    return user.assigned_order


def _user_record(user: User) -> dict[str, Any]:
    """A `users` row of SPEC 1; attribute values as the engine file keeps them (times tagged)."""
    return {
        USER_ID_COLUMN: user.id,
        USER_NAME_COLUMN: user.name,
        USER_STATUS_COLUMN: user.status,
        USER_DELETED_COLUMN: user.deleted,
        USER_OPEN_COLUMN: user.open,
        USER_LAST_ASSIGNED_COLUMN: format_instant(user.last_assigned_at),
        **json.loads(encode_attributes(user.attributes)),
    }


def _user_of(record: Mapping[str, Any], assigned_order: int) -> User:
    attributes = {name: value for name, value in record.items() if name not in STANDARD_USER_COLUMNS}
    last = record.get(USER_LAST_ASSIGNED_COLUMN)
    return User(
        id=record[USER_ID_COLUMN],
        name=record.get(USER_NAME_COLUMN),
        status=record.get(USER_STATUS_COLUMN),
        deleted=bool(record.get(USER_DELETED_COLUMN)),
        open=int(record.get(USER_OPEN_COLUMN) or 0),
        last_assigned_at=None if last is None else parse_instant(last),
        assigned_order=assigned_order,
        attributes=decode_attributes(json.dumps(attributes)),
    )


def _contact_record(
    contact: Contact, closed: bool, entry: QueueEntry | None, timers: Mapping[str, ReleaseTimer]
) -> dict[str, Any]:
    place = None
    if entry is not None:
        place = {
            "route": entry.route,
            "enqueued_at": format_instant(entry.enqueued_at),
            "deadline": format_instant(entry.deadline),
            "priority": entry.priority,
            "sequence": entry.sequence,
        }
    attributes = {name: value for name, value in contact.attributes.items() if name not in CONTACT_FIELDS}
    return {
        "id": contact.id,
        "assignee": contact.assignee,
        "closed": closed,
        "attrs": json.loads(encode_attributes(attributes)),
        "queue": place,  # its place in the queue, None when it is not queued
        "released_from": sorted(contact.released),  # the users it was released from (SPEC 4.1)
        "timers": [_timer_record(timer) for timer in timers.values()],  # its release timers, `unanswered` first
    }


def _timer_record(timer: ReleaseTimer) -> dict[str, Any]:
    """A release timer's fields but its contact (the record's own), its `due` as ISO 8601."""
    record = {name: getattr(timer, name) for name in _TIMER_FIELDS}
    record["due"] = format_instant(timer.due)
    return record


def _release_timer(contact: str, record: Mapping[str, Any]) -> ReleaseTimer:
    due = record.get("due")
    return ReleaseTimer(contact=contact, **{**record, "due": None if due is None else parse_instant(due)})


_TIMER_FIELDS = tuple(timer_field.name for timer_field in fields(ReleaseTimer) if timer_field.name != "contact")


def _queue_entry(record: Mapping[str, Any]) -> QueueEntry | None:
    place = record.get("queue")
    if place is None:
        return None
    return QueueEntry(
        record["id"],
        place["route"],
        parse_instant(place["enqueued_at"]),
        parse_instant(place["deadline"]),
        int(place["priority"]),
        int(place["sequence"]),
    )
