"""Benchmark the service's kept history: what each input costs, and an export's rebuild.

Runs the replay bench's event log (200,000 events over 2,000 users) through a
durable engine twice, interleaved, with and without the history kept, committing
every 64 events as a busy service's group commit does; prints the cost of keeping
it as a ratio of the two runs, the bytes per input (its JSON line, and what the
engine file grows by), and how long an export of the last half takes beside the
in-memory replay of the same log (an export replays the first half to rebuild
the state at its start).

    .venv/bin/python bench/history.py [--events N] [--users N]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from common import START, events, roster
from replay import POLICY

from rota.dsl import load_policy
from rota.engine import DurableEngine, Engine, compile_policy, event_from_record
from rota.engine.history import input_line

GROUP = 64
ROUNDS = 2


def durable_run(path: Path, records: list[dict], users: int, keep: bool) -> tuple[float, DurableEngine]:
    durable = DurableEngine.open(path, POLICY, roster(users, 0.3), now=START)
    if keep:
        durable.keep_history(START)
    started = time.perf_counter()
    for index, record in enumerate(records, 1):
        durable.handle(event_from_record(record))
        if index % GROUP == 0:
            durable.commit()
    durable.commit()
    return time.perf_counter() - started, durable


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--users", type=int, default=2_000)
    arguments = parser.parse_args()
    records = events(arguments.events, arguments.users)
    line_bytes = sum(len(input_line(event_from_record(record)).encode()) for record in records)
    print(f"inputs: {len(records):,}; a kept input's JSON line: {line_bytes / len(records):.0f} bytes on average")
    seconds = {False: 0.0, True: 0.0}
    sizes = {}
    with tempfile.TemporaryDirectory() as directory:
        for round_number in range(ROUNDS):
            for keep in (False, True) if round_number % 2 == 0 else (True, False):
                path = Path(directory) / f"engine-{keep}-{round_number}.duckdb"
                spent, durable = durable_run(path, records, arguments.users, keep)
                seconds[keep] += spent
                if keep:
                    half = event_from_record(records[len(records) // 2]).at
                    end = event_from_record(records[-1]).at
                    started = time.perf_counter()
                    exported = durable.history(half, end)
                    export_seconds = time.perf_counter() - started
                durable.close()
                sizes[keep] = os.path.getsize(path)
    print(
        f"durable run, commits of {GROUP}: {len(records) * ROUNDS / seconds[False]:,.0f} events/s without the "
        f"history, {len(records) * ROUNDS / seconds[True]:,.0f} with it: keeping it costs "
        f"{seconds[True] / seconds[False] - 1:+.1%}"
    )
    print(f"engine file: {(sizes[True] - sizes[False]) / len(records):.0f} bytes more per input with the history")
    engine = Engine(compile_policy(load_policy(POLICY)), roster(arguments.users, 0.3))
    started = time.perf_counter()
    for record in records:
        engine.handle(event_from_record(record))
    replay_seconds = time.perf_counter() - started
    print(
        f"export of the last half ({len(exported['events']):,} events): {export_seconds:.2f}s, "
        f"{export_seconds / replay_seconds:.2f}x an in-memory replay of the whole log ({replay_seconds:.2f}s)"
    )


if __name__ == "__main__":
    main()
