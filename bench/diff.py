"""Benchmark `rota diff` on bench/replay.py's event log: 200,000 events over 2,000 users.

Writes the log, its roster as a snapshot and two policies (bench/replay.py's, and
a copy with the general route's cap lowered) to a temporary folder, then times,
in the same run and interleaved, `rota diff` (rota.diff.diff_files) with no
contact explained (`--first 0`) and with the command's default ten, against
what it cannot beat: the two in-memory replays it runs, each as `rota replay`
would (rota.jobs.replay_file). Prints each, wall and CPU time, and the ratios,
best of a few tries.

    .venv/bin/python bench/diff.py [--events N] [--users N] [--tries N]
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from common import events, roster
from replay import POLICY

from rota.diff import diff_files
from rota.jobs import replay_file

NEW_POLICY = POLICY.replace("only open < 6", "only open < 4")


def write_history(directory: Path, event_count: int, users: int) -> tuple[Path, Path]:
    """The snapshot folder and the event log, as `rota diff --snapshot --events` reads them."""
    snapshot = directory / "snapshot"
    snapshot.mkdir()
    people = roster(users, 0.3)
    with open(snapshot / "users.csv", "w", newline="", encoding="utf-8") as out:
        rows = csv.writer(out)
        rows.writerow(["id", "status"])
        rows.writerows([user.id, user.status] for user in people.users.values())
    with open(snapshot / "memberships.csv", "w", newline="", encoding="utf-8") as out:
        rows = csv.writer(out)
        rows.writerow(["team", "user_id"])
        rows.writerows([team, user] for team, members in sorted(people.members.items()) for user in sorted(members))
    log = directory / "events.jsonl"
    log.write_text("".join(json.dumps(record) + "\n" for record in events(event_count, users)), encoding="utf-8")
    return snapshot, log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--tries", type=int, default=3)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        snapshot, log = write_history(directory, arguments.events, arguments.users)
        old, new = directory / "old.rota", directory / "new.rota"
        old.write_text(POLICY, encoding="utf-8")
        new.write_text(NEW_POLICY, encoding="utf-8")
        times: dict[str, list[tuple[float, float]]] = {"--first 0": [], "--first 10": [], "replays": []}
        for _ in range(arguments.tries):
            for first in (0, 10):
                with timed(times[f"--first {first}"]):
                    diff = diff_files(old, new, snapshot, events=log, explain_first=first)
            with timed(times["replays"]):
                for policy in (old, new):
                    replay_file(policy, snapshot, log, directory / "out.jsonl")
    comparison = diff.comparison
    print(
        f"rota diff on {arguments.events:,} events: {comparison.old_decisions:,} and {comparison.new_decisions:,} "
        f"decisions, {comparison.changed_decisions:,} differ (best of {arguments.tries}: wall, CPU)"
    )
    wall, cpu = min(times["replays"])
    print(f"two in-memory replays (rota replay, once per policy): {wall:.2f}s, CPU {cpu:.2f}s")
    for first in ("--first 0", "--first 10"):
        diff_wall, diff_cpu = min(times[first])
        print(
            f"rota diff {first}: {diff_wall:.2f}s, CPU {diff_cpu:.2f}s: "
            f"{diff_wall / wall:.2f} x the two replays' wall time, {diff_cpu / cpu:.2f} x their CPU"
        )


@contextmanager
def timed(into: list[tuple[float, float]]) -> Iterator[None]:
    """Append (wall, CPU) seconds of the block: CPU time is steadier on a machine others share."""
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    into.append((time.perf_counter() - wall, time.process_time() - cpu))


if __name__ == "__main__":
    main()
