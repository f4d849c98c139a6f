"""Benchmark the living engine: 200,000 events over 2,000 users, durable, then one big drain.

Prints events per second for a durable replay (group commits in a DuckDB
file) and in memory, and the cost of one drain that finds 100,000 contacts
queued, for a status change that lets one user take 1, 10 or 100 of them
(a few tries each) and for one that lets nobody take any.

    .venv/bin/python bench/replay.py [--events N] [--users N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import drain_costs, events, queued_engine, roster

from rota.dsl import load_policy
from rota.engine import DurableEngine, Engine, compile_policy
from rota.engine.provenance import EventLog, Run
from rota.engine.replay import load_events, replay_durable_events, replay_window

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


def replay_figures(records: list[dict], users: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        started = time.perf_counter()
        events, until = replay_window(load_events(records, "bench"), None)
        people = roster(users, 0.3)  # as `rota replay --db` runs it: with its fingerprint, the events' digest
        run = Run.replay("bench.rota", people, EventLog("bench", events))
        durable = DurableEngine.open(Path(directory) / "engine.duckdb", POLICY, people, run=run)
        decisions, count = replay_durable_events(durable, events, Path(directory) / "out.jsonl", until)
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


DRAIN_SIZES = (1, 10, 100)
TRIES = 3


def drain_figures(queued: int, users: int) -> None:
    """What one drain costs with `queued` contacts waiting, by how many contacts it assigns."""
    sizes = [size for size in DRAIN_SIZES for _ in range(TRIES)]
    engine, people = queued_engine(queued, users, sizes)
    nobody, costs = drain_costs(engine, people, sizes)
    print(f"drain with {queued:,} queued and nobody placeable: {nobody * 1000:.2f} ms")
    waiting = queued
    for size, seconds in costs:
        print(
            f"drain with {waiting:,} queued: a status change assigned {size} "
            f"in {seconds * 1000:.2f} ms ({seconds / size * 1e6:.1f} µs a contact)"
        )
        waiting -= size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--queued", type=int, default=100_000, help="contacts queued for the drains (0: no drains)")
    arguments = parser.parse_args()
    replay_figures(events(arguments.events, arguments.users), arguments.users)
    if arguments.queued:
        drain_figures(arguments.queued, arguments.users)


if __name__ == "__main__":
    main()
