"""Benchmark `rota serve`: a bounded load on loopback, routed contacts per second and latency.

Starts the service on a free port with a fresh engine file, creates 200 users,
then sends a fixed number of route requests from a few client threads (about
80% of the contacts are closed again, so loads stay realistic). Stops by
itself. Also prints the server's CPU time per routed contact, which a busy
machine disturbs less than throughput.

    .venv/bin/python bench/serve.py [--requests N] [--clients N]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
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
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        (folder / "policy.rota").write_text(POLICY)
        (folder / "token").write_text(TOKEN)
        port = free_port()
        server = subprocess.Popen(
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
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            run_load(f"http://127.0.0.1:{port}", arguments.requests, arguments.clients, server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used (Linux): steadier than wall time on a shared machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_load(url: str, requests: int, clients: int, server_pid: int) -> None:
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
    print(
        f"rota serve: {len(latencies):,} routed contacts from {clients} clients in {seconds:.2f}s "
        f"({len(latencies) / seconds:,.0f} routed/s, with ~80% closed again); "
        f"latency p50 {statistics.median(latencies) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms; "
        f"server CPU {server_cpu / len(latencies) * 1000:.2f} ms per routed contact"
    )


if __name__ == "__main__":
    main()
