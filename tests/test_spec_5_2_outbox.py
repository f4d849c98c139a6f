"""SPEC 5.2, decisions pushed out: paging by sequence number, the server-sent stream, and the webhook
outbox, delivered to a real local receiver that fails and times out at random, across a SIGKILL."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import uvicorn
from hypothesis import given, settings
from hypothesis import strategies as st
from test_spec_5_2_service import POLICY, TOKEN, Server

from rota.engine import DurableEngine, Roster, User
from rota.service import RotaService, Webhook, create_app
from rota.service.feed import DecisionFeed
from rota.service.outbox import SEQUENCE_HEADER, SIGNATURE_HEADER
from rota.storage import EngineStore
from rota.storage.engine_store import Changes

SECRET = b"webhook-secret-for-tests"
AUTHORIZED = {"Authorization": f"Bearer {TOKEN}"}


class Receiver:
    """A platform's webhook endpoint on loopback: answers 500, or too late, at random (seeded)."""

    def __init__(self, failing: float, late: float, late_seconds: float, seed: int = 7, first: tuple = ()):
        """`first`: draws for the first posts (0: fails, `failing`: late), so each way of failing surely happens."""
        self.arrivals: list[tuple[int, dict, bool]] = []  # (seq, decision, its post's signature verified)
        self.lock = threading.Lock()
        randomness = random.Random(seed)
        scripted = list(first)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    draw = scripted.pop(0) if scripted else randomness.random()
                if draw < failing:
                    self.send_response(500)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
                signed = hmac.compare_digest(self.headers.get(SIGNATURE_HEADER, ""), expected)
                decisions = json.loads(body)
                first, _, last = self.headers[SEQUENCE_HEADER].partition("-")
                assert [row["seq"] for row in decisions] == list(range(int(first), int(last) + 1))
                with receiver.lock:  # taken in, even when the answer comes too late for the sender
                    receiver.arrivals += [(row["seq"], row, signed) for row in decisions]
                if draw < failing + late:
                    time.sleep(late_seconds)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *arguments) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/rota"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def received(self) -> dict[int, dict]:
        """Each decision once, by its sequence number (the receiver's deduplication)."""
        with self.lock:
            firsts: dict[int, dict] = {}
            for seq, body, _ in self.arrivals:
                firsts.setdefault(seq, body)
            return firsts

    def wait_for(self, sequence_numbers: set[int], seconds: float = 20) -> None:
        deadline = time.monotonic() + seconds
        while not sequence_numbers <= set(self.received()) and time.monotonic() < deadline:
            time.sleep(0.05)

    def check(self, logged: list[dict]) -> None:
        """Every logged decision arrived, as logged, signed, and each contact's in the order decided."""
        received = self.received()
        missing = [row["seq"] for row in logged if row["seq"] not in received]
        assert not missing, f"{len(missing)} decisions never arrived: {missing[:10]}"
        assert all(received[row["seq"]] == row for row in logged)
        with self.lock:
            assert all(signed for _, _, signed in self.arrivals)
            first_arrivals = list(dict.fromkeys(seq for seq, _, _ in self.arrivals))
        per_contact = defaultdict(list)
        for seq in first_arrivals:
            per_contact[received[seq]["contact"]].append(seq)
        assert all(seqs == sorted(seqs) for seqs in per_contact.values())


@pytest.fixture
def receiver():
    running = Receiver(failing=0.2, late=0.1, late_seconds=0.3, first=(0.0, 0.2))
    yield running
    running.close()


def _service(tmp_path, webhook: Webhook | None = None) -> RotaService:
    users = [User(f"u{index}", status="online") for index in range(4)]
    engine = DurableEngine.open(tmp_path / "engine.duckdb", POLICY, Roster.build(users))
    return RotaService(engine, TOKEN, webhook)


async def _traffic(client: httpx.AsyncClient, contacts: int) -> None:
    """Routes (capped ones queue once the users are full) and closes (which drain the queue): a contact
    often has two decisions, queued then assigned."""
    for index in range(contacts):
        tags = ["capped"] if index % 3 else []
        await client.post(f"/v1/contacts/c{index}/route", json={"attrs": {"tags": tags}})
    for index in range(contacts // 2):  # the first ones, mostly assigned
        await client.post(f"/v1/contacts/c{index}/close")


def test_the_webhook_delivers_every_decision_signed_in_order_through_failures_and_timeouts(tmp_path, receiver):
    webhook = Webhook(receiver.url, SECRET, timeout=0.1, first_retry=0.005, longest_retry=0.02)
    service = _service(tmp_path, webhook)

    async def run() -> list[dict]:
        transport = httpx.ASGITransport(app=create_app(service))
        async with httpx.AsyncClient(transport=transport, base_url="http://rota", headers=AUTHORIZED) as client:
            await _traffic(client, 60)
            logged = (await client.get("/v1/decisions", params={"limit": 10_000})).json()
            await asyncio.to_thread(receiver.wait_for, {row["seq"] for row in logged})
            for _ in range(100):  # the receiver may have them before the sender has its answer
                metrics = (await client.get("/metrics")).text
                if "rota_webhook_backlog 0.0" in metrics:
                    break
                await asyncio.sleep(0.05)
        assert "rota_webhook_backlog 0.0" in metrics
        failures = [line for line in metrics.splitlines() if line.startswith("rota_webhook_failures_total")]
        assert float(failures[0].split()[1]) > 0
        return logged

    service.start()
    try:
        logged = asyncio.run(run())
    finally:
        service.stop()
    assert len(logged) > 60 and any(row["outcome"] == "queued" for row in logged)
    receiver.check(logged)
    duplicates = len(receiver.arrivals) - len(receiver.received())
    assert duplicates > 0, "no answer came too late: the test did not exercise redelivery"


def test_a_sigkilled_service_delivers_every_committed_decision_after_its_restart(tmp_path):
    receiver = Receiver(failing=0.04, late=0.02, late_seconds=0.4, seed=11)
    (tmp_path / "secret").write_text(SECRET.decode() + "\n")
    server = Server(tmp_path)
    server.options = ["--webhook", receiver.url, "--webhook-secret-file", str(tmp_path / "secret")]
    server.options += ["--webhook-timeout", "0.2"]
    server.start()
    try:
        with server.client() as client:
            for user_id in ("u1", "u2", "u3", "u4"):
                client.put(f"/v1/users/{user_id}", json={"status": "online"})

            def route(index: int) -> None:
                try:
                    client.post(f"/v1/contacts/k{index}/route", json={"attrs": {"tags": ["capped"]}})
                except httpx.HTTPError:
                    pass

            with ThreadPoolExecutor(8) as pool:
                futures = [pool.submit(route, index) for index in range(300)]
                time.sleep(0.4)
                server.stop(kill=True)
                for future in futures:
                    future.result()
        server.start()
        with server.client() as client:
            logged = _every_decision(client)
            receiver.wait_for({row["seq"] for row in logged})
            assert len(logged) > 10
            receiver.check(logged)
            with client.stream("GET", "/v1/decisions/stream"):  # open streams do not hold up a shutdown
                stopping = time.monotonic()
                server.stop()
                assert time.monotonic() - stopping < 5
    finally:
        if server.process.poll() is None:
            server.stop()
        receiver.close()


def _every_decision(client: httpx.Client, page: int = 50) -> list[dict]:
    """The log page by page, each page starting after the `X-Rota-Next-After` of the one before."""
    rows: list[dict] = []
    after = -1
    while True:
        answer = client.get("/v1/decisions", params={"after": after, "limit": page})
        rows += answer.json()
        if len(answer.json()) < page:
            return rows
        after = int(answer.headers["X-Rota-Next-After"])


def test_paging_by_sequence_number_is_stable_across_a_restart(tmp_path):
    def logged(service: RotaService) -> tuple[list[dict], list[dict]]:
        async def pages():
            transport = httpx.ASGITransport(app=create_app(service))
            async with httpx.AsyncClient(transport=transport, base_url="http://rota", headers=AUTHORIZED) as client:
                await _traffic(client, 12)
                every = (await client.get("/v1/decisions", params={"limit": 10_000})).json()
                first = await client.get("/v1/decisions", params={"after": -1, "limit": 5})
                second = await client.get(
                    "/v1/decisions", params={"after": first.headers["X-Rota-Next-After"], "limit": 5}
                )
                return every, first.json() + second.json()

        service.start()
        try:
            return asyncio.run(pages())
        finally:
            service.stop()

    every, paged = logged(_service(tmp_path))
    assert [row["seq"] for row in every] == list(range(len(every)))
    assert paged == every[:10]
    reopened = RotaService(DurableEngine.open(tmp_path / "engine.duckdb"), TOKEN)
    again, _ = logged(reopened)
    assert again[: len(every)] == every and again[len(every)]["seq"] == len(every)


class Running:
    """The app under uvicorn in a thread on a free port: a stream needs a real server to be read as it comes."""

    def __init__(self, service: RotaService):
        self.server = uvicorn.Server(uvicorn.Config(create_app(service), port=0, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=AUTHORIZED, timeout=10)

    def stop(self) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(timeout=10)


def _read_events(response: httpx.Response, count: int) -> tuple[list[tuple[int, dict]], int]:
    """The first `count` events of a stream, and the comment lines (heartbeats) seen meanwhile."""
    events, comments, event_id = [], 0, None
    for line in response.iter_lines():
        if line.startswith(":"):
            comments += 1
        elif line.startswith("id: "):
            event_id = int(line[4:])
        elif line.startswith("data: "):
            events.append((event_id, json.loads(line[6:])))
            if len(events) == count:
                break
    return events, comments


def test_the_stream_sends_each_committed_decision_resumes_and_keeps_alive(tmp_path):
    service = _service(tmp_path)
    service.stream_heartbeat = 0.1
    running = Running(service)
    try:
        client = running.client
        for index in range(5):
            client.post(f"/v1/contacts/early{index}/route", json={})
        with client.stream("GET", "/v1/decisions/stream") as live:  # from now on
            time.sleep(0.35)  # idle: heartbeats
            for index in range(3):
                client.post(f"/v1/contacts/live{index}/route", json={})
            events, comments = _read_events(live, 3)
        assert [body["contact"] for _, body in events] == ["live0", "live1", "live2"]
        assert comments >= 3  # the opening line and heartbeats
        logged = client.get("/v1/decisions", params={"limit": 100}).json()
        assert [body for _, body in events] == logged[5:]
        assert [event_id for event_id, _ in events] == [row["seq"] for row in logged[5:]]
        with client.stream("GET", "/v1/decisions/stream", headers={"Last-Event-ID": "2"}) as resumed:
            assert [body for _, body in _read_events(resumed, 5)[0]] == logged[3:]
        with client.stream("GET", "/v1/decisions/stream", params={"after": -1}) as whole:
            assert [body for _, body in _read_events(whole, 8)[0]] == logged
        refused = client.get("/v1/decisions/stream", headers={"Last-Event-ID": "seven"})
        assert refused.status_code == 422
        assert refused.json()["error"]["diagnostics"][0]["file"] == "header.last-event-id"
    finally:
        running.stop()


def test_the_stream_never_sends_a_decision_whose_commit_failed(tmp_path, monkeypatch):
    service = _service(tmp_path)
    running = Running(service)
    try:
        with running.client.stream("GET", "/v1/decisions/stream", params={"after": -1}) as live:
            running.client.post("/v1/contacts/kept/route", json={})
            monkeypatch.setattr(service.engine.store, "commit", _disk_full)
            assert running.client.post("/v1/contacts/lost/route", json={}).status_code == 503
            monkeypatch.undo()
            events, _ = _read_events(live, 1)
            time.sleep(0.3)
            assert service.feed.last_seq == 0  # the failed commit's decision was never published
        assert [body["contact"] for _, body in events] == ["kept"]
    finally:
        running.stop()


def _disk_full(changes: Changes) -> None:
    raise OSError("No space left on device")


@settings(max_examples=15, deadline=None)
@given(
    commits=st.lists(st.tuples(st.integers(0, 5), st.booleans()), max_size=12),
    before_feed=st.integers(0, 3),
    keep=st.integers(1, 8),
    after=st.integers(-1, 40),
    limit=st.integers(1, 12),
)
def test_reading_after_a_sequence_number_from_memory_or_the_journal_agrees_with_the_folded_log(
    commits, before_feed, keep, after, limit
):
    """The fast reads (the feed's memory; the tables and the unfolded journal) against the plain query
    (fold, then select). The first `before_feed` commits come before the feed exists, as at a restart."""
    store = EngineStore()
    feed = None
    seq = 0
    for count, (size, fold) in enumerate(commits):
        if count == before_feed:
            feed = DecisionFeed(store.decisions_after, seq - 1, keep)
        rows = [
            (seq + index, None, f"c{seq + index}", "r", "assigned", "u", "x", None, "v", 1) for index in range(size)
        ]
        seq += size
        store.commit(Changes(decisions=rows))
        if feed is not None:
            feed.publish(rows)
        if fold:
            store.checkpoint()
    feed = feed or DecisionFeed(store.decisions_after, seq - 1, keep)
    fast = [row[0] for row in store.decisions_after(after, limit)]
    followed = [row[0] for row in feed.after(after, limit)]
    plain = [row["seq"] for row in store.decisions(after=after, limit=limit)]
    assert fast == followed == plain == list(range(after + 1, min(seq, after + 1 + limit)))
    store.close()
