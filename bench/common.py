"""What the live-engine benchmarks share: a roster, an event log over about a day, and drains of a long queue.

bench/replay.py and bench/scale.py import it (each runs as a script, so this
folder is on its path).
"""

from __future__ import annotations

import heapq
import itertools
import random
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from rota.dsl import load_policy
from rota.engine import Engine, Event, Roster, User, compile_policy, event_from_record, format_instant
from rota.vocabulary import EventType, Outcome, Status

START = datetime(2026, 11, 23, 8, 0)
TEAMS = 20
# Extra attributes drawn from the log's (or roster's) own random source; none by default.
Draw = Callable[[random.Random], dict[str, Any]]


def roster(users: int, online_share: float, seed: int = 3, attributes: Draw | None = None) -> Roster:
    """`users` users in TEAMS teams, each online with probability `online_share`."""
    random_source = random.Random(seed)
    people = [
        User(
            f"user-{index:05d}",
            status=Status.ONLINE.value if random_source.random() < online_share else Status.OFFLINE.value,
            attributes=attributes(random_source) if attributes else {},
        )
        for index in range(users)
    ]
    memberships = [(f"team-{index % TEAMS:02d}", person.id) for index, person in enumerate(people)]
    return Roster.build(people, memberships)


def events(count: int, users: int, seed: int = 5, attributes: Draw | None = None) -> list[dict]:
    """Arrivals, closes, status changes and membership changes over about a day."""
    random_source = random.Random(seed)
    at = START
    open_contacts: list[str] = []
    records = []
    for index in range(count):
        at += timedelta(seconds=random_source.expovariate(1 / 0.45))
        stamp = at.isoformat() + "Z"
        roll = random_source.random()
        if roll < 0.5 or not open_contacts:
            contact = f"contact-{index:07d}"
            open_contacts.append(contact)
            tags = ["vip"] if random_source.random() < 0.1 else []
            team = "team-01" if random_source.random() < 0.2 else None
            attrs = {"tags": tags, "team": team, **(attributes(random_source) if attributes else {})}
            records.append({"at": stamp, "type": EventType.ROUTE.value, "contact": contact, "attrs": attrs})
        elif roll < 0.85:
            contact = open_contacts.pop(random_source.randrange(len(open_contacts)))
            records.append({"at": stamp, "type": EventType.CLOSE.value, "contact": contact})
        elif roll < 0.98:
            status = random_source.choice(
                [Status.ONLINE.value, Status.ONLINE.value, Status.AWAY.value, Status.OFFLINE.value]
            )
            records.append(
                {
                    "at": stamp,
                    "type": EventType.STATUS.value,
                    "user": f"user-{random_source.randrange(users):05d}",
                    "status": status,
                }
            )
        else:
            kind = random_source.choice([EventType.JOIN.value, EventType.LEAVE.value])
            records.append(
                {
                    "at": stamp,
                    "type": kind,
                    "user": f"user-{random_source.randrange(users):05d}",
                    "team": f"team-{random_source.randrange(TEAMS):02d}",
                }
            )
    return records


# How long an assignee takes to reply, in seconds, drawn from the log's random source.
ReplyDelay = Callable[[random.Random], float]


def few_minutes(random_source: random.Random) -> float:
    """Exponential, mean 3 minutes."""
    return random_source.expovariate(1 / 180)


def with_replies(
    records: list[dict], policy: str, people: Roster, share: float, seed: int = 7, delay: ReplyDelay = few_minutes
) -> list[dict]:
    """The log with `reply` events (SPEC 4.1): after `share` of the assignments that `policy` makes
    running it, a reply by the assignee, `delay` later. The replies are placed by a run of the
    policy itself, so they answer the assignments that run makes."""
    random_source = random.Random(seed)
    engine = Engine(compile_policy(load_policy(policy)), people)
    pending: list[tuple[datetime, int, dict]] = []  # replies not yet due, by time (then as made)
    made = itertools.count()
    log: list[dict] = []
    for record in records:
        event = event_from_record(record)
        while pending and pending[0][0] <= event.at:
            reply = heapq.heappop(pending)[2]
            engine.handle(event_from_record(reply))
            log.append(reply)
        log.append(record)
        for decision in engine.handle(event):
            if decision.outcome == Outcome.ASSIGNED.value and random_source.random() < share:
                at = (decision.at or event.at) + timedelta(seconds=delay(random_source))
                reply = {"at": format_instant(at), "type": EventType.REPLY.value, "contact": decision.contact}
                heapq.heappush(pending, (at, next(made), {**reply, "user": decision.user}))
    return log


# For drains of a chosen size: a user at `open` = CAP - k that comes online takes exactly k contacts.
DRAIN_CAP = 1_000
DRAIN_POLICY = f"""\
route waiting {{
  assign to space
  using least_open
  only online
  only open < {DRAIN_CAP}
}}
"""


def queued_engine(queued: int, users: int, sizes: Sequence[int]) -> tuple[Engine, list[User]]:
    """An engine with `queued` contacts waiting and every user offline; the first users are
    at `open` = DRAIN_CAP - size, one for each of `sizes`, so coming online each takes `size`."""
    if max(sizes, default=0) > DRAIN_CAP:
        raise ValueError(f"a drain assigns at most {DRAIN_CAP} contacts to one user here")
    people = [User(f"user-{index:05d}", status=Status.OFFLINE.value) for index in range(users)]
    for size, person in zip(sizes, people):
        person.open = DRAIN_CAP - size
    engine = Engine(compile_policy(load_policy(DRAIN_POLICY)), Roster.build(people))
    for index in range(queued):
        engine.handle(Event(START, EventType.ROUTE.value, contact=f"waiting-{index:07d}", attrs={}))
    assert len(engine.queue) == queued
    return engine, people


def drain_costs(engine: Engine, people: list[User], sizes: Sequence[int]) -> tuple[float, list[tuple[int, float]]]:
    """On a `queued_engine`: seconds of a drain that places nobody, then (size, seconds) of each
    status change that lets the next user take `size` contacts, in the order of `sizes`."""
    moment = START + timedelta(seconds=1)
    started = time.perf_counter()
    engine.handle(Event(moment, EventType.STATUS.value, user=people[-1].id, status=Status.AWAY.value))
    nobody = time.perf_counter() - started
    costs = []
    for size, user in zip(sizes, people):
        moment += timedelta(seconds=1)
        started = time.perf_counter()
        decisions = engine.handle(Event(moment, EventType.STATUS.value, user=user.id, status=Status.ONLINE.value))
        seconds = time.perf_counter() - started
        assert len(decisions) == size
        costs.append((size, seconds))
    return nobody, costs
