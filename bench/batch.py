"""Benchmark `rota batch`: 10,000 users in 50 teams, 1,000,000 contacts, Parquet in and out.

Prints the end-to-end time of the `rota batch` command (a subprocess, as a
user runs it), contacts per second and peak memory, then the same run
in-process split into phases, so a slow phase is easy to find.

    .venv/bin/python bench/batch.py [--contacts N] [--users N]
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

DATA = Path(__file__).parent / "data"
LANGUAGES = ["en", "es", "fr", "de", "pt", "it"]
NOW = "2026-11-25T10:00:00Z"

POLICY = """\
# Five routes mixing least_open and round_robin, static caps and a contact-dependent filter.
route vip when "vip" in contact.tags {
  assign to team "team-00"
  using least_open
  only online
  only open < 25
  priority 10
  timeout 30m -> general
}

route enterprise when contact.tier >= 3 {
  assign to team "team-01"
  using round_robin
  only online
  only open < 30
  priority 5
}

route by_language when contact.language != null and contact.language != "en" {
  assign to space
  using least_open
  only online
  only contact.language in languages
  only open < 40
}

route billing when "billing" in contact.tags {
  assign to team "team-02"
  using round_robin
  only "billing" in skills
}

route general {
  assign to space
  using round_robin
  only online
  only open < 40
}
"""


def generate(directory: Path, users: int, contacts: int, seed: int = 7) -> None:
    random_source = random.Random(seed)
    snapshot = directory / "snapshot"
    snapshot.mkdir(parents=True, exist_ok=True)
    ids = [f"user-{index:05d}" for index in range(users)]
    pq.write_table(
        pa.table(
            {
                "id": ids,
                "name": [f"Agent {index}" for index in range(users)],
                "status": [random_source.choices(["online", "away", "offline"], [7, 2, 1])[0] for _ in ids],
                "open_contacts": [random_source.randint(0, 10) for _ in ids],
                "languages": [random_source.sample(LANGUAGES, random_source.randint(1, 3)) for _ in ids],
                "skills": [
                    random_source.sample(["billing", "tech", "sales"], random_source.randint(0, 2)) for _ in ids
                ],
            }
        ),
        snapshot / "users.parquet",
    )
    teams = [(f"team-{index % 50:02d}", user_id) for index, user_id in enumerate(ids)]
    teams += [(f"team-{random_source.randrange(50):02d}", user_id) for user_id in ids[: users // 2]]
    pq.write_table(
        pa.table({"team": [t for t, _ in teams], "user_id": [u for _, u in teams]}), snapshot / "memberships.parquet"
    )
    tags = [["vip"], ["billing"], [], [], [], ["billing", "vip"], [], []]
    pq.write_table(
        pa.table(
            {
                "id": [f"contact-{index:07d}" for index in range(contacts)],
                "language": [random_source.choice(LANGUAGES + [None]) for _ in range(contacts)],
                "tags": [tags[random_source.randrange(len(tags))] for _ in range(contacts)],
                "tier": [random_source.randint(1, 3) for _ in range(contacts)],
            }
        ),
        directory / "contacts.parquet",
    )
    (directory / "policy.rota").write_text(POLICY)


def run_command(directory: Path) -> tuple[float, float]:
    """Seconds and peak memory (MiB) of `rota batch` as a separate process."""
    rota = Path(sys.executable).parent / "rota"
    started = time.perf_counter()
    subprocess.run(
        [
            str(rota),
            "batch",
            str(directory / "policy.rota"),
            "--snapshot",
            str(directory / "snapshot"),
            "--contacts",
            str(directory / "contacts.parquet"),
            "--out",
            str(directory / "out.parquet"),
            "--now",
            NOW,
        ],
        check=True,
        stderr=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return seconds, peak_mib


def run_phases(directory: Path) -> list[tuple[str, float]]:
    from rota.engine import load_roster, parse_instant, run_batch, snapshot_schema
    from rota.jobs import compile_policy_file
    from rota.storage import load_snapshot, read_contacts, write_table

    phases = []

    def timed(name, step):
        started = time.perf_counter()
        result = step()
        phases.append((name, time.perf_counter() - started))
        return result

    snapshot = timed("load snapshot", lambda: load_snapshot(directory / "snapshot"))
    policy = timed(
        "check and compile",
        lambda: compile_policy_file(directory / "policy.rota", snapshot_schema(snapshot.connection)),
    )
    contacts = timed("read contacts", lambda: read_contacts(directory / "contacts.parquet"))
    roster = timed("load roster", lambda: load_roster(snapshot.connection))
    table = timed("route", lambda: run_batch(policy, snapshot.connection, roster, contacts, parse_instant(NOW)))
    timed("write parquet", lambda: write_table(table, directory / "out-phases.parquet"))
    return phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=10_000)
    arguments = parser.parse_args()
    directory = DATA / f"batch-{arguments.users}-{arguments.contacts}"
    if not (directory / "contacts.parquet").exists():
        started = time.perf_counter()
        generate(directory, arguments.users, arguments.contacts)
        print(f"generated {directory} in {time.perf_counter() - started:.1f}s")
    seconds, peak_mib = run_command(directory)
    print(
        f"rota batch: {arguments.contacts:,} contacts, {arguments.users:,} users: {seconds:.2f}s end to end, "
        f"{arguments.contacts / seconds:,.0f} contacts/s, peak memory {peak_mib:,.0f} MiB"
    )
    outcomes = pq.read_table(directory / "out.parquet").column("outcome").value_counts().to_pylist()
    print("outcomes: " + ", ".join(f"{o['values']} {o['counts']:,}" for o in outcomes))
    for name, phase_seconds in run_phases(directory):
        print(f"  {name:<18} {phase_seconds:6.3f}s")


if __name__ == "__main__":
    main()
