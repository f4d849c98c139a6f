"""Benchmark `rota batch`: 10,000 users in 50 teams, 1,000,000 contacts, Parquet in and out.

Two cases over the same users: `mixed` (five routes, least-open and round-robin,
caps, one contact-dependent filter) and `sticky` (the same with a sticky
`assign to user contact.last_agent` route first, for the 30% of contacts that
have a last agent). For each it prints the end-to-end time of the `rota batch`
command (a subprocess, as a user runs it) as a ratio of a plain-Python heap
loop timed in the same run (one pool, static filters, no I/O: a heapq of
(open, order, id), one pop and one push per contact), contacts per second and
peak memory, then the same run in-process split into phases, so a slow phase
is easy to find. The commands run from bytecode, as installed ones do. Each
time is the best of `--repeat` runs, the heap loop and the command interleaved;
beside the ratio of the bests, the median of each round's ratio (the command
over the heap loop timed just before it), which the machine's drifting speed
moves less. `--compare ROTA` times another `rota` executable (say main's)
interleaved with them, on the same files; `--python` adds the routing phase
with the compiled kernel off.

    .venv/bin/python bench/batch.py [--contacts N] [--users N] [--repeat N] [--compare ROTA] [--python]
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import random
import statistics
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

STICKY_ROUTE = """\
# Contacts that come back go to their last agent, whatever their load.
route returning when contact.last_agent != null {
  assign to user contact.last_agent
  priority 20
}

"""
CASES = {"mixed": POLICY, "sticky": STICKY_ROUTE + POLICY}
STICKY_SHARE = 0.3  # of contacts with a last agent; one in fifty of those names a user who is not in the snapshot


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
    last_agents = [
        (ids[random_source.randrange(users)] if random_source.random() < 0.98 else "user-gone")
        if random_source.random() < STICKY_SHARE
        else None
        for _ in range(contacts)
    ]
    sticky_contacts = pq.read_table(directory / "contacts.parquet").append_column("last_agent", pa.array(last_agents))
    pq.write_table(sticky_contacts, directory / "contacts-sticky.parquet")
    for case, policy in CASES.items():
        (directory / f"policy-{case}.rota").write_text(policy)


def contacts_file(directory: Path, case: str) -> Path:
    return directory / ("contacts.parquet" if case == "mixed" else f"contacts-{case}.parquet")


def heap_loop_seconds(directory: Path, contacts: int) -> float:
    """The simplest case with no I/O: the online users in one pool, least open first, one pop and push a contact."""
    users = pq.read_table(directory / "snapshot" / "users.parquet").to_pylist()
    heap = [(user["open_contacts"], -1, user["id"]) for user in users if user["status"] == "online"]
    heapq.heapify(heap)
    started = time.perf_counter()
    order = 0
    for _ in range(contacts):
        open_count, _, user_id = heapq.heappop(heap)
        heapq.heappush(heap, (open_count + 1, order, user_id))
        order += 1
    return time.perf_counter() - started


def installed_environment() -> dict[str, str]:
    """The commands run as installed ones do, from bytecode: an installer compiles it, but a shell that sets
    PYTHONDONTWRITEBYTECODE would have every run compile rota's modules again (about 0.1 s). The bytecode
    goes under bench/data/pycache, so no checkout is written to; the first run of each build makes it."""
    environment = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    return {**environment, "PYTHONPYCACHEPREFIX": str(DATA / "pycache")}


# Runs each command it is given (a JSON list of arguments a line) and answers with its seconds and peak
# memory. Started while this process is small: a child's peak memory counts the memory of the process it
# was forked from (Linux keeps the larger at exec), and this one grows by hundreds of MiB as it times the
# phases in-process and reads outputs back.
SPAWNER = """
import json, os, subprocess, sys, time
for line in sys.stdin:
    started = time.perf_counter()
    process = subprocess.Popen(json.loads(line), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    answer = [time.perf_counter() - started, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)]
    print(json.dumps(answer), flush=True)
"""


class Spawner:
    """A small process that runs the timed commands (see SPAWNER)."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", SPAWNER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=installed_environment(),
        )

    def run(self, arguments: list[str]) -> tuple[float, float]:
        """Seconds and peak memory (MiB) of the command."""
        assert self.process.stdin is not None and self.process.stdout is not None  # both are pipes
        self.process.stdin.write(json.dumps(arguments) + "\n")
        self.process.stdin.flush()
        seconds, peak_mib, code = json.loads(self.process.stdout.readline())
        if code:
            raise subprocess.CalledProcessError(code, arguments)
        return seconds, peak_mib


def run_command(spawner: Spawner, rota: Path, directory: Path, case: str, out: Path) -> tuple[float, float]:
    """Seconds and peak memory (MiB) of `rota batch` as a separate process."""
    return spawner.run(
        [
            str(rota),
            "batch",
            str(directory / f"policy-{case}.rota"),
            "--snapshot",
            str(directory / "snapshot"),
            "--contacts",
            str(contacts_file(directory, case)),
            "--out",
            str(out),
            "--now",
            NOW,
        ]
    )


def run_phases(directory: Path, case: str, python_pass: bool = False) -> list[tuple[str, float]]:
    from rota.engine import batch, load_roster, parse_instant, run_batch, snapshot_schema
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
        lambda: compile_policy_file(directory / f"policy-{case}.rota", snapshot_schema(snapshot.connection)),
    )
    contacts = timed("read contacts", lambda: read_contacts(contacts_file(directory, case)))
    roster = timed("load roster", lambda: load_roster(snapshot.connection))
    table = timed("route", lambda: run_batch(policy, snapshot.connection, roster, contacts, parse_instant(NOW)))
    timed("write parquet", lambda: write_table(table, directory / "out-phases.parquet"))
    if python_pass:  # the same routing with the compiled kernel off, on a roster as it was loaded
        roster = load_roster(snapshot.connection)
        batch.KERNEL_PASS = False
        try:
            timed(
                "route, Python pass",
                lambda: run_batch(policy, snapshot.connection, roster, contacts, parse_instant(NOW)),
            )
        finally:
            batch.KERNEL_PASS = True
    return phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, interleaved; the best is shown")
    parser.add_argument("--compare", metavar="ROTA", type=Path, help="another rota executable to time alongside")
    parser.add_argument("--python", action="store_true", help="also time the routing phase with the Python pass")
    arguments = parser.parse_args()
    directory = DATA / f"batch-{arguments.users}-{arguments.contacts}"
    if not (directory / "contacts-sticky.parquet").exists():
        started = time.perf_counter()
        generate(directory, arguments.users, arguments.contacts)
        print(f"generated {directory} in {time.perf_counter() - started:.1f}s")
    spawner = Spawner()
    rotas = {"rota": Path(sys.executable).parent / "rota"}
    if arguments.compare:
        rotas["compared"] = arguments.compare
    for case in CASES:
        times: dict[str, list[float]] = {"heap loop": [], **{name: [] for name in rotas}}
        peaks: dict[str, list[float]] = {name: [] for name in rotas}
        for _ in range(arguments.repeat):
            times["heap loop"].append(heap_loop_seconds(directory, arguments.contacts))
            for name, rota in rotas.items():
                seconds, peak = run_command(spawner, rota, directory, case, directory / f"out-{case}-{name}.parquet")
                times[name].append(seconds)
                peaks[name].append(peak)
        heap = min(times["heap loop"])
        print(
            f"{case}: {arguments.contacts:,} contacts, {arguments.users:,} users; "
            f"heap loop {heap:.2f}s (best of {arguments.repeat})"
        )
        for name, rota in rotas.items():
            seconds = min(times[name])
            # Each round's command over the heap loop timed just before it: the machine's speed drifts
            # between rounds, so the two bests can come from rounds of different speeds.
            rounds = statistics.median(run / loop for run, loop in zip(times[name], times["heap loop"]))
            print(
                f"  {name} batch ({rota}): {seconds:.2f}s end to end = {seconds / heap:.2f}x the heap loop "
                f"(median of the rounds' ratios {rounds:.2f}x), {arguments.contacts / seconds:,.0f} contacts/s, "
                f"peak memory {min(peaks[name]):,.0f}-{max(peaks[name]):,.0f} MiB"
            )
        if arguments.compare and not pq.read_table(directory / f"out-{case}-rota.parquet").equals(
            pq.read_table(directory / f"out-{case}-compared.parquet")
        ):
            print("  the two rotas' outputs differ")
        outcomes = pq.read_table(directory / f"out-{case}-rota.parquet").column("outcome").value_counts().to_pylist()
        print("  outcomes: " + ", ".join(f"{o['values']} {o['counts']:,}" for o in outcomes))
        for name, phase_seconds in run_phases(directory, case, arguments.python):
            print(f"    {name:<18} {phase_seconds:6.3f}s")


if __name__ == "__main__":
    main()
