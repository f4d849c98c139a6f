"""Benchmark the living engine: 200,000 events over 2,000 users, durable, then one big drain.

Prints events per second for a durable replay (group commits in a DuckDB
file) and in memory, and the cost of one drain that finds 100,000 contacts
queued, for a status change that lets one user take 1, 10 or 100 of them
(a few tries each) and for one that lets nobody take any.

    .venv/bin/python bench/replay.py [--events N] [--users N]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from rota.dsl import load_policy
from rota.engine import DurableEngine, Engine, Event, Roster, User, compile_policy
from rota.engine.provenance import EventLog, Run
from rota.engine.replay import load_events, replay_durable, replay_window

POLICY = """\
route vip when "vip" in contact.tags {
  assign to team "team-00"
  using least_open
  only online
  only open < 4
  priority 10
  timeout 15m -> general
}

route by_team when contact.team != null {
  assign to team "team-01"
  using round_robin
  only online
  only open < 5
  timeout 30m -> general
}

route general {
  assign to space
  using least_open
  only online
  only open < 6
  timeout 2h
}
"""
START = datetime(2026, 11, 23, 8, 0)


def roster(users: int, online_share: float, seed: int = 3) -> Roster:
    random_source = random.Random(seed)
    people = [
        User(f"user-{index:05d}", status="online" if random_source.random() < online_share else "offline")
        for index in range(users)
    ]
    memberships = [(f"team-{index % 20:02d}", person.id) for index, person in enumerate(people)]
    return Roster.build(people, memberships)


def events(count: int, users: int, seed: int = 5) -> list[dict]:
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
            records.append({"at": stamp, "type": "route", "contact": contact, "attrs": {"tags": tags, "team": team}})
        elif roll < 0.85:
            contact = open_contacts.pop(random_source.randrange(len(open_contacts)))
            records.append({"at": stamp, "type": "close", "contact": contact})
        elif roll < 0.98:
            status = random_source.choice(["online", "online", "away", "offline"])
            records.append(
                {"at": stamp, "type": "status", "user": f"user-{random_source.randrange(users):05d}", "status": status}
            )
        else:
            kind = random_source.choice(["join", "leave"])
            records.append(
                {
                    "at": stamp,
                    "type": kind,
                    "user": f"user-{random_source.randrange(users):05d}",
                    "team": f"team-{random_source.randrange(20):02d}",
                }
            )
    return records


def replay_figures(records: list[dict], users: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        started = time.perf_counter()
        events, until = replay_window(load_events(records, "bench"), None)
        people = roster(users, 0.3)  # as `rota replay --db` runs it: with its fingerprint, the events' digest
        run = Run.replay("bench.rota", people, EventLog("bench", events))
        durable = DurableEngine.open(Path(directory) / "engine.duckdb", POLICY, people, run=run)
        decisions, count = replay_durable(durable, events, Path(directory) / "out.jsonl", until)
        seconds = time.perf_counter() - started
        durable.close()
    print(
        f"durable replay: {count:,} events, {len(decisions):,} decisions in {seconds:.2f}s: "
        f"{count / seconds:,.0f} events/s"
    )
    engine = Engine(compile_policy(load_policy(POLICY)), roster(users, 0.3))
    started = time.perf_counter()
    from rota.engine import event_from_record

    for record in records:
        engine.handle(event_from_record(record))
    seconds = time.perf_counter() - started
    print(f"in-memory replay: {count / seconds:,.0f} events/s")


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
DRAIN_SIZES = (1, 10, 100)
TRIES = 3


def drain_figures(queued: int, users: int) -> None:
    """What one drain costs with `queued` contacts waiting, by how many contacts it assigns."""
    people = [User(f"user-{index:05d}", status="offline") for index in range(users)]
    sizes = [size for size in DRAIN_SIZES for _ in range(TRIES)]
    for size, person in zip(sizes, people):
        person.open = DRAIN_CAP - size
    engine = Engine(compile_policy(load_policy(DRAIN_POLICY)), Roster.build(people))
    for index in range(queued):
        engine.handle(Event(START, "route", contact=f"waiting-{index:06d}", attrs={}))
    assert len(engine.queue) == queued
    moment = START + timedelta(seconds=1)
    started = time.perf_counter()
    engine.handle(Event(moment, "status", user=people[-1].id, status="away"))
    print(f"drain with {queued:,} queued and nobody placeable: {(time.perf_counter() - started) * 1000:.2f} ms")
    for size, user in zip(sizes, people):
        moment += timedelta(seconds=1)
        started = time.perf_counter()
        decisions = engine.handle(Event(moment, "status", user=user.id, status="online"))
        seconds = time.perf_counter() - started
        assert len(decisions) == size
        print(
            f"drain with {len(engine.queue) + size:,} queued: a status change assigned {size} "
            f"in {seconds * 1000:.2f} ms ({seconds / size * 1e6:.1f} µs a contact)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--queued", type=int, default=100_000)
    arguments = parser.parse_args()
    replay_figures(events(arguments.events, arguments.users), arguments.users)
    drain_figures(arguments.queued, arguments.users)


if __name__ == "__main__":
    main()
