"""Benchmark the living engine: 200,000 events over 2,000 users, durable, then one big drain.

Prints events per second for a durable replay (group commits in a DuckDB
file) and in memory, and the cost of one drain that finds 100,000 contacts
queued, for a status change that lets one user take 1, 10 or 100 of them
(a few tries each) and for one that lets nobody take any.

With `--reassign`, it replays instead the log with replies (after 80% of
the assignments, by the assignee) under the policy with `reassign when
unanswered 5m` and `reassign when away 10m` on every route (SPEC 4.1), and
prints its events/s as a ratio of the same log under the policy without
them, both timed in this run, interleaved.

    .venv/bin/python bench/replay.py [--events N] [--users N] [--reassign]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import drain_costs, events, queued_engine, roster, with_replies

from rota.dsl import load_policy
from rota.engine import DurableEngine, Engine, compile_policy, event_from_record
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
# The same routes, each watching the contacts it assigns (SPEC 4.1).
REASSIGN_POLICY = POLICY.replace("\n}", "\n  reassign when unanswered 5m\n  reassign when away 10m\n}")
REPLY_SHARE = 0.8
ROUNDS = 2


def durable_replay(records: list[dict], users: int, policy: str) -> tuple[int, int, float]:
    """Events, decisions and seconds of a durable replay of `records` under `policy`."""
    with tempfile.TemporaryDirectory() as directory:
        started = time.perf_counter()
        events, until = replay_window(load_events(records, "bench"), None)
        people = roster(users, 0.3)  # as `rota replay --db` runs it: with its fingerprint, the events' digest
        run = Run.replay("bench.rota", people, EventLog("bench", events))
        durable = DurableEngine.open(Path(directory) / "engine.duckdb", policy, people, run=run)
        decisions, count = replay_durable_events(durable, events, Path(directory) / "out.jsonl", until)
        seconds = time.perf_counter() - started
        durable.close()
    return count, len(decisions), seconds


def memory_replay(records: list[dict], users: int, policy: str) -> tuple[int, float]:
    """Decisions and seconds of an in-memory replay of `records` under `policy`."""
    engine = Engine(compile_policy(load_policy(policy)), roster(users, 0.3))
    started = time.perf_counter()
    decisions = 0
    for record in records:
        decisions += len(engine.handle(event_from_record(record)))
    return decisions, time.perf_counter() - started


def replay_figures(records: list[dict], users: int) -> None:
    count, decisions, seconds = durable_replay(records, users, POLICY)
    print(
        f"durable replay: {count:,} events, {decisions:,} decisions in {seconds:.2f}s: {count / seconds:,.0f} events/s"
    )
    _, seconds = memory_replay(records, users, POLICY)
    print(f"in-memory replay: {count / seconds:,.0f} events/s")


def reassign_figures(records: list[dict], users: int) -> None:
    """The log with replies, under the policy without and with reassign options, interleaved; best of ROUNDS."""
    log = with_replies(records, REASSIGN_POLICY, roster(users, 0.3), REPLY_SHARE)
    replies = len(log) - len(records)
    best: dict[tuple[str, str], float] = {}
    made: dict[tuple[str, str], int] = {}
    for _ in range(ROUNDS):
        for name, policy in (("without", POLICY), ("with", REASSIGN_POLICY)):
            _, made[name, "durable"], seconds = durable_replay(log, users, policy)
            best[name, "durable"] = min(seconds, best.get((name, "durable"), seconds))
            made[name, "memory"], seconds = memory_replay(log, users, policy)
            best[name, "memory"] = min(seconds, best.get((name, "memory"), seconds))
    print(f"reassign: {len(log):,} events ({replies:,} replies), best of {ROUNDS} interleaved rounds")
    for mode in ("durable", "memory"):
        without, with_ = len(log) / best["without", mode], len(log) / best["with", mode]
        print(
            f"{mode} replay: {without:,.0f} events/s without reassign ({made['without', mode]:,} decisions), "
            f"{with_:,.0f} with ({made['with', mode]:,} decisions): {without / with_:.2f}x the time (goal 1.3x)"
        )


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
    parser.add_argument("--reassign", action="store_true", help="the SPEC 4.1 variant, as a ratio to the log without")
    arguments = parser.parse_args()
    if arguments.reassign:
        reassign_figures(events(arguments.events, arguments.users), arguments.users)
        return
    replay_figures(events(arguments.events, arguments.users), arguments.users)
    if arguments.queued:
        drain_figures(arguments.queued, arguments.users)


if __name__ == "__main__":
    main()
