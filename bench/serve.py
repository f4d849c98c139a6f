"""Benchmark `rota serve`: a bounded load on loopback, routed contacts per second and latency.

Starts the service on a free port with a fresh engine file, creates 200 users,
then sends a fixed number of route requests from a few client threads (about
80% of the contacts are closed again, so loads stay realistic). Stops by
itself. Also prints the server's CPU time per routed contact, which a busy
machine disturbs less than throughput.

The same load runs with the webhook off and on (`--webhook`, posting every
decision to a local receiver in its own process), one after the other, each
on a fresh file, so the two lines printed are measured in the same run; with
the webhook on it also prints the receiver's count and the backlog left when
the load ended.

    .venv/bin/python bench/serve.py [--requests N] [--clients N] [--rounds N] [--explain]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

POLICY = """\
route vip when "vip" in contact.tags {
  assign to team "VIP"
  using least_open
  only online
  only open < 5
  priority 10
  timeout 30m -> general
}

route general {
  assign to space
  using round_robin
  only online
  only open < 20
}
"""
TOKEN = "bench-token"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=1, help="pairs of runs, webhook off then on")
    parser.add_argument("--explain", action="store_true", help="pairs of runs: notes for explain off, then on")
    arguments = parser.parse_args()
    if arguments.explain:
        for _ in range(arguments.rounds):
            for notes in (False, True):
                with tempfile.TemporaryDirectory() as directory:
                    serve_with_notes(Path(directory), notes, arguments.requests, arguments.clients)
        print(notes_cost_in_process(arguments.requests), flush=True)
        return
    received = multiprocessing.Value("q", 0)
    receiver_port = free_port()
    receiver = multiprocessing.Process(target=receive, args=(receiver_port, received), daemon=True)
    receiver.start()
    try:
        for _ in range(arguments.rounds):
            for webhook in (None, f"http://127.0.0.1:{receiver_port}/hook"):
                with received.get_lock():
                    received.value = 0
                with tempfile.TemporaryDirectory() as directory:
                    serve_and_load(Path(directory), webhook, arguments.requests, arguments.clients, received)
    finally:
        receiver.terminate()


class Started:
    """A `rota serve` started on a free port with a fresh engine file in `folder`."""

    def __init__(self, folder: Path, options: list[str]):
        (folder / "policy.rota").write_text(POLICY)
        (folder / "token").write_text(TOKEN)
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "rota"),
                "serve",
                "--db",
                str(folder / "engine.duckdb"),
                "--policy",
                str(folder / "policy.rota"),
                "--port",
                str(port),
                "--token-file",
                str(folder / "token"),
                *options,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


def serve_and_load(folder: Path, webhook: str | None, requests: int, clients: int, received) -> None:
    server = Started(folder, [] if webhook is None else ["--webhook", webhook])
    url = server.url
    try:
        figures = run_load(url, requests, clients, server.process.pid)
        if webhook is None:
            print(f"webhook off: {figures}", flush=True)
            return
        backlog = webhook_backlog(url)
        started = time.perf_counter()
        while webhook_backlog(url) > 0 and time.perf_counter() - started < 60:
            time.sleep(0.05)
        print(
            f"webhook on:  {figures}; the receiver had {received.value:,} posts, "
            f"{backlog:,.0f} decisions behind when the load ended, all delivered "
            f"{time.perf_counter() - started:.2f}s later",
            flush=True,
        )
    finally:
        server.process.terminate()
        server.process.wait(timeout=30)


def serve_with_notes(folder: Path, notes: bool, requests: int, clients: int) -> None:
    """One load on a service with or without the notes explain reads; with them, their bytes per decision."""
    server = Started(folder, [] if notes else ["--no-explain"])
    try:
        figures = run_load(server.url, requests, clients, server.process.pid)
    finally:
        server.process.terminate()
        server.process.wait(timeout=30)
    if not notes:
        print(f"explain notes off: {figures}", flush=True)
        return
    import duckdb

    with duckdb.connect(str(folder / "engine.duckdb"), read_only=True) as connection:
        decisions = connection.execute("SELECT count(*) FROM decisions").fetchone()[0]
        noted, size = connection.execute("SELECT count(*), sum(length(body)) FROM decision_inputs").fetchone()
    print(
        f"explain notes on:  {figures}; {noted:,} notes for {decisions:,} decisions, "
        f"{size / max(noted, 1):,.0f} bytes per note",
        flush=True,
    )


def notes_cost_in_process(contacts: int, rounds: int = 5) -> str:
    """The notes' cost without HTTP or the other process: the service's engine (a file, one commit per
    request) routing and closing `contacts` contacts over 200 users, without and with notes, in
    interleaved rounds; CPU per decision, the medians of the rounds."""
    from datetime import datetime, timedelta

    from rota.engine import DurableEngine, Event, Roster, User
    from rota.explain.inputs import ExplainedDurableEngine

    start = datetime(2026, 11, 25, 9)
    events = []
    for index in range(contacts):
        at = start + timedelta(seconds=index)
        events.append(Event(at, "route", contact=f"c{index}", attrs={"tags": ["vip"] if index % 10 == 0 else []}))
        if index % 5:
            events.append(Event(at, "close", contact=f"c{index}"))
    costs: dict[str, list[float]] = {"off": [], "on": []}
    for _ in range(rounds):
        for name, kind in (("off", DurableEngine), ("on", ExplainedDurableEngine)):
            users = [User(f"user-{index:03d}") for index in range(200)]
            roster = Roster.build(users, [("VIP", f"user-{index:03d}") for index in range(20)])
            with tempfile.TemporaryDirectory() as directory:
                engine = kind.open(Path(directory) / "engine.duckdb", POLICY, roster)
                started = time.process_time()
                for event in events:
                    engine.handle(event)
                    engine.commit()
                costs[name].append((time.process_time() - started) / contacts * 1e6)
                engine.close()
    off, on = statistics.median(costs["off"]), statistics.median(costs["on"])
    return (
        f"in process, one commit per event, {contacts:,} decisions, {rounds} interleaved rounds: "
        f"{off:,.0f} us per decision without notes, {on:,.0f} us with them ({on - off:+,.0f} us, {on / off:.2f}x)"
    )


def receive(port: int, received) -> None:
    """The platform's side of the webhook, in its own process: counts the posts and answers 204."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver would

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            with received.get_lock():
                received.value += 1
            self.send_response(204)
            self.end_headers()

        def log_message(self, *arguments) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def webhook_backlog(url: str) -> float:
    metrics = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    return next(float(line.split()[1]) for line in metrics.splitlines() if line.startswith("rota_webhook_backlog "))


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used (Linux): steadier than wall time on a shared machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_load(url: str, requests: int, clients: int, server_pid: int) -> str:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    for _ in range(300):
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    with httpx.Client(base_url=url, headers=headers) as setup:
        for index in range(200):
            setup.put(f"/v1/users/user-{index:03d}", json={"status": "online"})
            if index < 20:
                setup.put(f"/v1/teams/VIP/members/user-{index:03d}")

    def worker(client_index: int) -> list[float]:
        # The standard library's client: httpx costs the load generator more CPU than the server
        # spends answering, and on two cores the generator would measure itself.
        random_source = random.Random(client_index)
        latencies = []
        connection = http.client.HTTPConnection(host, port)
        try:
            for index in range(client_index, requests, clients):
                tags = ["vip"] if random_source.random() < 0.1 else []
                started = time.perf_counter()
                send(connection, "POST", f"/v1/contacts/c{index}/route", {"attrs": {"tags": tags}}, 200)
                latencies.append(time.perf_counter() - started)
                if random_source.random() < 0.8:
                    send(connection, "POST", f"/v1/contacts/c{index}/close", None, 204)
        finally:
            connection.close()
        return latencies

    def send(connection, method: str, path: str, body: dict | None, expected: int) -> None:
        payload = json.dumps(body).encode() if body is not None else b""
        connection.request(method, path, payload, {**headers, "Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        if response.status != expected:
            raise RuntimeError(f"{method} {path} answered {response.status}")

    host, _, port = url.removeprefix("http://").partition(":")
    started, server_cpu = time.perf_counter(), cpu_seconds(server_pid)
    with ThreadPoolExecutor(clients) as pool:
        latencies = sorted(value for result in pool.map(worker, range(clients)) for value in result)
    seconds = time.perf_counter() - started
    server_cpu = cpu_seconds(server_pid) - server_cpu
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    return (
        f"{len(latencies):,} routed contacts from {clients} clients in {seconds:.2f}s "
        f"({len(latencies) / seconds:,.0f} routed/s, with ~80% closed again); "
        f"latency p50 {statistics.median(latencies) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms; "
        f"server CPU {server_cpu / len(latencies) * 1000:.2f} ms per routed contact"
    )


if __name__ == "__main__":
    main()
