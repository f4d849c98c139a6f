"""Small builders so the spec tests read like the spec: a policy as text, users as keywords."""

from datetime import datetime, timedelta

from rota.dsl import load_policy
from rota.engine import Contact, Engine, Event, Roster, Router, User, compile_policy

T0 = datetime(2026, 11, 25, 9, 0)


def at(minutes: float = 0) -> datetime:
    return T0 + timedelta(minutes=minutes)


def roster(users: dict[str, dict], teams: dict[str, list[str]] | None = None, cursors=None) -> Roster:
    people = [User(user_id, **{"status": "online", **fields}) for user_id, fields in users.items()]
    memberships = [(team, member) for team, members in (teams or {}).items() for member in members]
    return Roster.build(people, memberships, cursors)


def router(policy_text: str, users: dict[str, dict], teams=None, cursors=None) -> Router:
    return Router(compile_policy(load_policy(policy_text)), roster(users, teams, cursors))


def engine(policy_text: str, users: dict[str, dict], teams=None) -> Engine:
    return Engine(compile_policy(load_policy(policy_text)), roster(users, teams))


def contact(contact_id: str = "c1", assignee: str | None = None, **attributes) -> Contact:
    return Contact(contact_id, assignee, attributes)


def event(minutes: float, kind: str, **fields) -> Event:
    return Event(at(minutes), kind, **fields)


def rows(decisions) -> list[tuple]:
    """(minute, contact, route, outcome, user, reason) for compact assertions."""
    return [((d.at - T0).total_seconds() / 60, d.contact, d.route, d.outcome, d.user, d.reason) for d in decisions]
