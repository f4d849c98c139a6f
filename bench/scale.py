"""Benchmark how the live engine's cost grows: users (1,000 to 100,000) by policy shape, and a 1,000,000-contact queue.

For each number of users, one event log (routes, closes, status and team
changes) is replayed in memory under each policy shape: caps only, each
contact-dependent filter, a filter on `now`. A cell prints events per second
(over `Engine.handle` alone, the log parsed beforehand), the latency of
`Engine.handle` on route events (p50, p99) and the cell's peak memory; each
cell runs in a process of its own, so cells share no heap. Each shape is also
given as a ratio to caps only on the same log, and each shape's latency as a
ratio to the smallest size's. The first route event, which builds what
the routes keep from the whole roster, is timed on its own ("first ms") and
left out of the rest. A cell stops at its time budget and says how many
events it handled: a slow shape is measured on the first part of the log.

Then 1,000,000 contacts are queued (caps only): the memory each queued
contact takes, and the cost of one drain by how many contacts it assigns.

    .venv/bin/python bench/scale.py [--sizes 1000,10000] [--events N] [--large-events N] [--budget S] [--queued N]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

from common import drain_costs, events, queued_engine, roster

from rota.dsl import load_policy
from rota.engine import Engine, compile_policy, event_from_record
from rota.vocabulary import EventType

LANGUAGES = ["en", "es", "fr", "de", "pt", "it"]
REGIONS = ["north", "south", "east", "west"]
TIER_NAMES = ["gold", "silver", "bronze"]
# The filter each shape adds to both routes; caps only adds none.
SHAPES = {
    "caps only": "",
    "contact.language in languages": "only contact.language in languages",
    "region == contact.region": "only region == contact.region",
    "level >= contact.tier": "only level >= contact.tier",
    "tier_name in contact.accepted": "only tier_name in contact.accepted",
    "now.hour >= shift_start": "only now.hour >= shift_start",
}
CAPS = "caps only"
POLICY = """\
route vip when "vip" in contact.tags {{
  assign to team "team-00"
  using least_open
  only online
  only open < 4
  {shape}
  priority 10
  timeout 15m -> general
}}

route general {{
  assign to space
  using least_open
  only online
  only open < 6
  {shape}
  timeout 2h
}}
"""
LARGE = 10_000  # sizes above it replay `--large-events`
GOAL_SIZES = (5_000, 10_000)  # the goal: every shape within 2x of caps only there
DRAIN_SIZES = (1, 10, 100, 1000)


def user_attributes(random_source: random.Random) -> dict[str, Any]:
    return {
        "languages": random_source.sample(LANGUAGES, random_source.randint(1, 3)),
        "region": random_source.choice(REGIONS),
        "level": random_source.randint(1, 5),
        "tier_name": random_source.choice(TIER_NAMES),
        "shift_start": random_source.randint(0, 12),  # the log starts at 08:00: most are on shift
    }


def contact_attributes(random_source: random.Random) -> dict[str, Any]:
    return {
        "language": random_source.choices(LANGUAGES, [5, 2, 1, 1, 1, 1])[0],
        "region": random_source.choice(REGIONS),
        "tier": random_source.randint(1, 4),
        "accepted": random_source.sample(TIER_NAMES, random_source.randint(1, 2)),
    }


def peak_memory_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1] if len(values) > 1 else 0.0


# ------------------------------------------------------------------ one cell, in its own process


def replay_cell(users: int, shape: str, count: int, budget: float) -> dict[str, Any]:
    """Replay the size's log under one shape in memory, until the log or the budget ends."""
    log = [event_from_record(record) for record in events(count, users, attributes=contact_attributes)]
    engine = Engine(
        compile_policy(load_policy(POLICY.format(shape=SHAPES[shape]))), roster(users, 0.3, attributes=user_attributes)
    )
    route = EventType.ROUTE.value
    # The first route event builds what the routes keep from the whole roster: timed on its own.
    clock, first = time.perf_counter, next(index for index, event in enumerate(log) if event.type == route)
    for event in log[:first]:
        engine.handle(event)
    started = clock()
    engine.handle(log[first])
    build = clock() - started
    latencies: list[float] = []
    handled, spent = 0, 0.0
    for event in log[first + 1 :]:
        started = clock()
        engine.handle(event)
        seconds = clock() - started
        spent += seconds
        handled += 1
        if event.type == route:
            latencies.append(seconds)
        if spent > budget:
            break
    return {
        "events": handled,
        "of": len(log) - first - 1,
        "build": build,
        "per_second": handled / spent,
        "p50": percentile(latencies, 0.50),
        "p99": percentile(latencies, 0.99),
        "memory": peak_memory_mib(),
    }


def queue_cell(queued: int, users: int) -> dict[str, Any]:
    """Memory per queued contact, then drains by the number of contacts they assign."""
    before = peak_memory_mib()
    engine, people = queued_engine(queued, users, DRAIN_SIZES)
    per_contact = (peak_memory_mib() - before) * 1024 * 1024 / queued
    nobody, costs = drain_costs(engine, people, DRAIN_SIZES)
    return {"per_contact": per_contact, "nobody": nobody, "drains": costs, "memory": peak_memory_mib()}


def in_new_process(arguments: list[str]) -> dict[str, Any]:
    """Run this script on one cell in a new process: its figures, read from its output."""
    done = subprocess.run([sys.executable, __file__, *arguments], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the cell {' '.join(arguments)} failed:\n{done.stderr}")
    return json.loads(done.stdout)


# ------------------------------------------------------------------ the tables


def replay_table(sizes: list[int], counts: dict[int, int], budget: float) -> None:
    print("replay in memory, by users and policy shape (ratios: to caps only on the same log)")
    header = f"{'users':>8} {'shape':<31} {'first ms':>8} {'events':>8} {'events/s':>9} {'x caps':>7}"
    print(f"{header} {'p50 µs':>8} {'p99 µs':>8} {'p50 x caps':>10} {'peak MiB':>9}")
    cells: dict[tuple[int, str], dict[str, Any]] = {}
    for users in sizes:
        for shape in SHAPES:
            cell = cells[users, shape] = in_new_process(["--cell", str(users), shape, str(counts[users]), str(budget)])
            caps = cells[users, CAPS]
            handled = f"{cell['events']:,}" + ("" if cell["events"] == cell["of"] else "*")
            print(
                f"{users:>8,} {shape:<31} {cell['build'] * 1000:>8.1f} {handled:>8} {cell['per_second']:>9,.0f} "
                f"{caps['per_second'] / cell['per_second']:>6.1f}x {cell['p50'] * 1e6:>8.1f} {cell['p99'] * 1e6:>8.1f} "
                f"{cell['p50'] / caps['p50']:>9.1f}x {cell['memory']:>9.0f}",
                flush=True,
            )
    if any(cell["events"] < cell["of"] for cell in cells.values()):
        print(f"* stopped at the {budget:g} s budget, before the end of the log")
    growth(sizes, cells)
    goals(sizes, cells)


def growth(sizes: list[int], cells: dict[tuple[int, str], dict[str, Any]]) -> None:
    """Latency p50 at each size as a ratio to the smallest size's (the goal: at most 2x to 100,000)."""
    if len(sizes) < 2:
        return
    print(f"decision cost (p50) as a ratio to {sizes[0]:,} users: goal at most 2x")
    for shape in SHAPES:
        ratios = ", ".join(
            f"{users:,}: {cells[users, shape]['p50'] / cells[sizes[0], shape]['p50']:.1f}x" for users in sizes[1:]
        )
        print(f"  {shape:<31} {ratios}")


def goals(sizes: list[int], cells: dict[tuple[int, str], dict[str, Any]]) -> None:
    for users in (size for size in sizes if size in GOAL_SIZES):
        caps = cells[users, CAPS]["per_second"]
        worst = max(caps / cells[users, shape]["per_second"] for shape in SHAPES)
        verdict = "met" if worst <= 2 else "not met"
        print(f"goal at {users:,} users, every shape within 2x of caps only: {verdict} (worst {worst:.1f}x)")


def queue_table(queued: int, users: int) -> None:
    cell = in_new_process(["--queue", str(queued), str(users)])
    print(f"{queued:,} contacts queued over {users:,} users (caps only; peak {cell['memory']:,.0f} MiB):")
    print(f"  memory per queued contact: {cell['per_contact']:,.0f} bytes")
    print(f"  a drain that places nobody: {cell['nobody'] * 1000:.2f} ms")
    for size, seconds in cell["drains"]:
        print(f"  a drain assigning {size:>5,}: {seconds * 1000:8.2f} ms ({seconds / size * 1e6:.1f} µs a contact)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="numbers of users, comma-separated")
    parser.add_argument("--events", type=int, default=20_000, help="events in the log, up to 10,000 users")
    parser.add_argument("--large-events", type=int, default=5_000, help="events in the log above 10,000 users")
    parser.add_argument("--budget", type=float, default=10.0, help="seconds of handling a cell may take at most")
    parser.add_argument("--queued", type=int, default=1_000_000, help="contacts queued for the drains (0: none)")
    parser.add_argument("--queue-users", type=int, default=10_000)
    parser.add_argument("--cell", nargs=4, help=argparse.SUPPRESS)  # USERS SHAPE EVENTS BUDGET: one cell
    parser.add_argument("--queue", nargs=2, type=int, help=argparse.SUPPRESS)  # QUEUED USERS: the queue cell
    arguments = parser.parse_args()
    if arguments.cell:
        users, shape, count, budget = arguments.cell
        print(json.dumps(replay_cell(int(users), shape, int(count), float(budget))))
        return
    if arguments.queue:
        print(json.dumps(queue_cell(*arguments.queue)))
        return
    sizes = [int(size) for size in arguments.sizes.split(",")]
    counts = {users: arguments.events if users <= LARGE else arguments.large_events for users in sizes}
    replay_table(sizes, counts, arguments.budget)
    if arguments.queued:
        queue_table(arguments.queued, arguments.queue_users)


if __name__ == "__main__":
    main()
