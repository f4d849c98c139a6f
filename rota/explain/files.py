"""The decision to explain, found in files: a replay's (by number, or a contact's K-th) or a batch contact's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rota.engine import Contact, load_roster, snapshot_schema
from rota.engine.replay import load_events
from rota.jobs import PolicyLocation, compile_policy_file, load_snapshot_warning
from rota.storage import Warn, read_contacts, read_events
from rota.vocabulary import ContactField

from .model import Explanation
from .run import explain_batch, explain_recorded, record_run

CONTACT_ID, CONTACT_ASSIGNEE = ContactField.ID.value, ContactField.ASSIGNEE.value


class NoSuchDecision(ValueError):
    """The decision asked for is not in the run: one line that says what the run holds."""


@dataclass(frozen=True)
class Wanted:
    """Which decision of a replay: its number (`seq`, the first is 0), or the `nth` (from 1) of a contact's."""

    seq: int | None = None
    contact: str | None = None
    nth: int = 1


def explain_replay_file(
    policy: PolicyLocation,
    snapshot_dir: str | Path,
    events_path: str | Path,
    wanted: Wanted,
    user: str | None = None,
    until: datetime | None = None,
    warn: Warn | None = None,
) -> Explanation:
    """Replay the log as `rota replay` does, up to the decision, and explain it from the state just before it."""
    snapshot = load_snapshot_warning(snapshot_dir, warn)
    compiled = compile_policy_file(policy, snapshot_schema(snapshot.connection))
    roster = load_roster(snapshot.connection)
    events = load_events(read_events(events_path), str(events_path))
    recorded = record_run(compiled, roster, events, until)
    position = decision_position(recorded.decisions, wanted)
    [explanation] = explain_recorded(compiled, roster, events, recorded, [position], user, until)
    return explanation


def decision_position(decisions: list, wanted: Wanted) -> int:
    if wanted.seq is not None:
        if not 0 <= wanted.seq < len(decisions):
            raise NoSuchDecision(f"--seq {wanted.seq}: the replay makes decisions 0 to {len(decisions) - 1}")
        return wanted.seq
    positions = [position for position, decision in enumerate(decisions) if decision.contact == wanted.contact]
    if not positions:
        raise NoSuchDecision(f"--contact {wanted.contact}: the replay makes no decision for that contact")
    if not 1 <= wanted.nth <= len(positions):
        raise NoSuchDecision(
            f"--nth {wanted.nth}: contact {wanted.contact} has {len(positions)} "
            f"decision{'' if len(positions) == 1 else 's'} in the replay, counted from 1"
        )
    return positions[wanted.nth - 1]


def explain_batch_file(
    policy: PolicyLocation,
    snapshot_dir: str | Path,
    contacts_path: str | Path,
    contact_id: str,
    now: datetime,
    user: str | None = None,
    warn: Warn | None = None,
) -> Explanation:
    """Route the contacts file as `rota batch` does and explain the decision for one contact."""
    snapshot = load_snapshot_warning(snapshot_dir, warn)
    compiled = compile_policy_file(policy, snapshot_schema(snapshot.connection))
    contacts = [
        Contact(
            row[CONTACT_ID],
            row[CONTACT_ASSIGNEE],
            {name: value for name, value in row.items() if name not in (CONTACT_ID, CONTACT_ASSIGNEE)},
        )
        for row in read_contacts(contacts_path).to_pylist()
    ]
    if not any(contact.id == contact_id for contact in contacts):
        raise NoSuchDecision(f"--contact {contact_id}: {contacts_path} has no contact with that id")
    roster = load_roster(snapshot.connection)
    [explanation] = explain_batch(compiled, roster, contacts, now, lambda d: d.contact == contact_id, user)
    return explanation
