"""What the service notes at each decision so `rota explain --url` can explain it later without a replay.

For each decision its router makes, a note (JSON, in the engine file's
`decision_inputs` table, in the same commit as the decision): how the
contact came (`via`, the route it was given), `now`, the contact's fields,
the round-robin cursors, and the users changed since the previous note, as
they were just before the decision. Every `WHOLE_EVERY` notes (and the first
after the engine file is opened) a note holds every user instead. The state
a decision saw is then the last whole note before it with the changes of the
notes after it laid over: at most `WHOLE_EVERY` notes read, never the
history. A note usually holds one or two users (the one chosen last time,
the one whose status changed), so it costs a few hundred bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rota.engine import CompiledPolicy, Contact, Decision, Roster, User, parse_instant
from rota.engine.clock import format_instant
from rota.engine.compiler import CompiledRoute
from rota.engine.durable import DurableEngine
from rota.engine.roster import JournalReader
from rota.engine.router import Router
from rota.storage.engine_store import Changes, decode_attributes, encode_attributes

from .build import explain_decision
from .model import Explanation
from .run import WatchedRouter, Watcher

WHOLE_EVERY = 1024  # notes between two that hold every user: the most an explanation reads


def user_note(user: User) -> list[Any]:
    return [
        user.name,
        user.status,
        user.deleted,
        user.open,
        format_instant(user.last_assigned_at),
        user.assigned_order,
        user.teams,
        encode_attributes(user.attributes),
    ]


def user_of_note(user_id: str, note: list[Any]) -> User:
    name, status, deleted, open_count, last_assigned_at, order, _, attributes = note
    return User(
        id=user_id,
        name=name,
        status=status,
        deleted=deleted,
        open=open_count,
        last_assigned_at=parse_instant(last_assigned_at) if last_assigned_at else None,
        assigned_order=order,
        attributes=decode_attributes(attributes),
    )


class InputRecorder(Watcher):
    """Notes, for each decision the router makes, what explaining it needs (the module's docstring)."""

    def __init__(self, roster: Roster):
        self.roster = roster
        self.changes = JournalReader(roster.journal)
        self.users: dict[str, list[Any]] = {}  # users changed since the last note, as of the last look
        self.whole = True  # the next note holds every user
        self.noted_everyone = False  # every user is in `users` already (a drain that placed nobody noted them)
        self.since_whole = 0
        self.current: dict[str, Any] = {}
        self.notes: dict[int, tuple[bool, str]] = {}  # id of a decision made -> (whole, its note)

    def before(
        self, call: int, via: str, route: CompiledRoute | None, router: Router, contact: Contact, now: datetime
    ) -> None:
        users = self.roster.users
        entries = self.changes.read()
        if entries is None:  # too far behind to know who changed
            self.whole, self.noted_everyone = True, False
        if self.whole and not self.noted_everyone:
            changed: Iterable[str] = users
            self.noted_everyone = True
        else:
            changed = dict.fromkeys(user_id for _, user_id in entries or ())
        for user_id in changed:
            self.users[user_id] = user_note(users[user_id])
        self.current = {
            "via": via,
            "route": None if route is None else route.name,
            "now": format_instant(now),
            "contact": [contact.id, contact.assignee, encode_attributes(contact.attributes), sorted(contact.released)],
            "cursors": dict(self.roster.cursors),
            "users": self.users,
        }

    def after(self, call: int, decision: Decision | None) -> None:
        if decision is None:  # a drain that placed nobody: its changes go in the next note
            return
        self.notes[id(decision)] = (self.whole, json.dumps(self.current, separators=(",", ":")))
        self.users = {}
        self.since_whole += 1
        self.whole = self.since_whole >= WHOLE_EVERY
        if self.whole:
            self.since_whole, self.noted_everyone = 0, False

    def taken(self, decision: Decision) -> tuple[bool, str] | None:
        return self.notes.pop(id(decision), None)


class ExplainedDurableEngine(DurableEngine):
    """The service's engine: a DurableEngine that also writes each decision's note, in the decision's commit."""

    def __init__(self, *arguments: Any, **options: Any):
        super().__init__(*arguments, **options)
        self.recorder = InputRecorder(self.engine.roster)
        self._watch()

    def _watch(self) -> None:
        self.engine.router = WatchedRouter(self.engine.policy, self.engine.roster, self.recorder)

    def use_policy(self, *arguments: Any, **options: Any) -> CompiledPolicy:
        compiled = super().use_policy(*arguments, **options)
        self._watch()
        return compiled

    def prepare_commit(self) -> tuple[Changes, list[Decision]]:
        changes, decisions = super().prepare_commit()
        for row, decision in zip(changes.decisions, decisions):
            note = self.recorder.taken(decision)
            if note is not None:
                changes.decision_inputs.append((row[0], *note))
        return changes, decisions


@dataclass(frozen=True)
class NotedState:
    """A decision's inputs, rebuilt from its notes: the roster as it was, the contact, the moment."""

    roster: Roster
    contact: Contact
    now: datetime
    via: str
    route: str | None


def state_of(notes: list[str]) -> NotedState:
    """Lay each note's users over the whole note's (the first); the last note is the decision's own."""
    users: dict[str, list[Any]] = {}
    last: dict[str, Any] = {}
    for text in notes:
        last = json.loads(text)
        users.update(last["users"])
    roster = Roster(
        users={user_id: user_of_note(user_id, note) for user_id, note in users.items()}, cursors=last["cursors"]
    )
    for user_id, note in users.items():
        for team in note[6]:
            roster.join(user_id, team)
    contact_id, assignee, attributes, released = last["contact"]
    contact = Contact(contact_id, assignee, decode_attributes(attributes), frozenset(released))
    return NotedState(roster, contact, parse_instant(last["now"]), last["via"], last["route"])


def explain_noted(
    policy: CompiledPolicy, notes: list[str], decision: Decision, seq: int, user: str | None
) -> Explanation:
    """Explain a service's decision from its notes (`EngineStore.decision_inputs`), under the policy it ran."""
    state = state_of(notes)
    route = policy.route_named(state.route) if state.route is not None else None
    router = Router(policy, state.roster)
    return explain_decision(
        router,
        state.contact,
        state.now,
        decision,
        state.via,
        route,
        seq=seq,
        user=user,
        released=state.contact.released,
    )
