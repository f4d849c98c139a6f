"""SPEC 5.2: `rota serve`, tested from outside over real HTTP: uvicorn in a subprocess
on a free loopback port, driven with httpx."""

import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from test_durability import check_invariants

TOKEN = "test-token-0123456789"
POLICY = """\
route slow when "slow" in contact.tags {
  assign to team "Nobody Online"
  only online
  timeout 1s -> unassign
}

route capped when "capped" in contact.tags {
  assign to space
  using least_open
  only online
  only open < 3
}

route even {
  assign to space
  using round_robin
  only online
}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    def __init__(self, directory: Path):
        self.directory = directory
        self.port = free_port()
        (directory / "policy.rota").write_text(POLICY)
        (directory / "token").write_text(TOKEN + "\n")
        self.process = None
        self.options: list[str] = []  # more of `rota serve`'s options

    def start(self) -> "Server":
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "rota"),
                "serve",
                "--db",
                str(self.directory / "engine.duckdb"),
                "--policy",
                str(self.directory / "policy.rota"),
                "--port",
                str(self.port),
                "--token-file",
                str(self.directory / "token"),
                *self.options,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("the server did not start: " + self.process.stderr.read().decode()[-500:])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, token: str = TOKEN) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=10)

    def stop(self, kill: bool = False) -> None:
        self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        self.process.wait(timeout=20)


@pytest.fixture
def server(tmp_path):
    running = Server(tmp_path).start()
    with running.client() as client:
        for user_id in ("u1", "u2", "u3", "u4"):
            assert client.put(f"/v1/users/{user_id}", json={"status": "online"}).status_code == 200
    yield running
    if running.process.poll() is None:
        running.stop()


def test_every_endpoint_but_healthz_needs_the_token(server):
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    for method, path in (
        ("GET", "/v1/queue"),
        ("GET", "/v1/policy"),
        ("GET", "/metrics"),
        ("POST", "/v1/contacts/c1/route"),
        ("GET", "/v1/decisions"),
    ):
        assert httpx.request(method, f"{server.url}{path}").status_code == 401
        response = httpx.request(method, f"{server.url}{path}", headers={"Authorization": "Bearer wrong"})
        assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"


def test_route_close_and_contact_state(server):
    with server.client() as client:
        decision = client.post("/v1/contacts/c1/route", json={"attrs": {"tags": []}}).json()
        assert (decision["outcome"], decision["route"], decision["reason"]) == ("assigned", "even", "round_robin")
        assert client.get("/v1/contacts/c1").json()["assignee"] == decision["user"]
        assert client.post("/v1/contacts/c1/close").status_code == 204
        assert client.get("/v1/contacts/c1").json()["closed"] is True
        assert client.get("/v1/contacts/nope").status_code == 404
        assert client.get("/v1/decisions", params={"contact": "c1"}).json()[-1]["outcome"] == "assigned"


def test_users_teams_and_the_queue(server):
    with server.client() as client:
        for user_id in ("u1", "u2", "u3", "u4"):
            client.put(f"/v1/users/{user_id}", json={"status": "away"})
        queued = client.post("/v1/contacts/q1/route", json={"attrs": {"tags": []}}).json()
        assert queued["outcome"] == "queued" and queued["deadline"]
        assert [entry["contact"] for entry in client.get("/v1/queue").json()] == ["q1"]
        assert client.put("/v1/teams/Night/members/u1").status_code == 204
        user = client.put("/v1/users/u1", json={"status": "online", "attrs": {"skills": ["x"]}}).json()
        assert user["teams"] == ["Night"] and user["attrs"] == {"skills": ["x"]}
        assert client.get("/v1/queue").json() == []  # u1 coming online drained it
        assert client.get("/v1/contacts/q1").json()["assignee"] == "u1"
        assert client.delete("/v1/teams/Night/members/u1").status_code == 204
        assert client.delete("/v1/users/u2").status_code == 204
        assert client.delete("/v1/users/ghost").status_code == 404


def _refusal(answer: httpx.Response, status: int) -> tuple[str, str]:
    """The code of a refused request's one diagnostic, and the part of the request it names."""
    assert answer.status_code == status, answer.text
    (diagnostic,) = answer.json()["error"]["diagnostics"]
    return diagnostic["code"], diagnostic["file"]


def test_bad_input_is_a_4xx_naming_the_problem_and_changes_nothing(server):
    with server.client() as client:
        before = client.get("/v1/policy").json()
        bad = client.put("/v1/policy", content="route r { usng least_open }")
        assert bad.status_code == 422 and bad.json()["error"]["diagnostics"][0]["line"] == 1
        assert bad.json()["error"]["message"] == "the policy has 1 error"
        mistyped = client.put("/v1/policy", content='route r {\n  assign to space\n  only open < "5"\n}\n')
        # Each diagnostic is Diagnostic.to_json(): its code and place, as `rota check --format json` gives them.
        assert mistyped.status_code == 422 and mistyped.json()["error"]["diagnostics"] == [
            {
                "file": "policy",
                "line": 3,
                "column": 8,
                "end_line": 3,
                "end_column": 18,
                "severity": "error",
                "code": "E204",
                "name": "type-mismatch",
                "message": "cannot compare a number with a string",
                "hint": None,
            }
        ]
        assert client.get("/v1/policy").json() == before
        assert _refusal(client.put("/v1/users/u1", content="{oops"), 400) == ("S601", "body")
        assert _refusal(client.put("/v1/users/u1", json=["online"]), 422) == ("S602", "body")
        assert _refusal(client.put("/v1/users/u1", json={"status": "busy"}), 422) == ("S605", "body.status")
        assert _refusal(client.put("/v1/users/u1", json={"name": 7}), 422) == ("S604", "body.name")
        assert _refusal(client.post("/v1/contacts/c1/route", json={"attrs": [1]}), 422) == ("S603", "body.attrs")
        assert _refusal(client.get("/v1/decisions", params={"since": "noon"}), 422) == ("S606", "query.since")
        assert _refusal(client.get("/v1/decisions", params={"limit": "ten"}), 422) == ("S607", "query.limit")
        assert client.put("/v1/teams/T/members/ghost").status_code == 404
        assert client.post("/v1/contacts/c1/route", content="x" * 300_000).status_code == 413
        streamed = client.post("/v1/contacts/c1/route", content=(b"x" * 1024 for _ in range(300)))
        assert streamed.status_code == 413 and streamed.json()["error"]["code"] == "too_large"
        assert client.get("/v1/contacts/c1").status_code == 404  # none of the refused requests routed it


def test_policy_versions_take_effect_and_roll_back(server):
    with server.client() as client:
        first = client.get("/v1/policy").json()["version"]
        second = client.put("/v1/policy", content="route all {\n  unassign\n}\n").json()
        assert second["routes"] == ["all"]
        assert client.post("/v1/contacts/c9/route", json={}).json()["outcome"] == "unassigned"
        assert {v["version"] for v in client.get("/v1/policies").json()} == {first, second["version"]}
        assert client.post(f"/v1/policies/{first}/activate").json()["version"] == first
        assert client.post("/v1/contacts/c10/route", json={}).json()["outcome"] == "assigned"


def test_timeouts_fire_on_the_wall_clock(server):
    with server.client() as client:
        assert client.post("/v1/contacts/s1/route", json={"attrs": {"tags": ["slow"]}}).json()["outcome"] == "failed"
        client.put("/v1/teams/Nobody Online/members/u1")
        client.put("/v1/users/u1", json={"status": "away"})
        assert client.post("/v1/contacts/s2/route", json={"attrs": {"tags": ["slow"]}}).json()["outcome"] == "queued"
        time.sleep(2.5)
        outcomes = [row["outcome"] for row in client.get("/v1/decisions", params={"contact": "s2"}).json()]
        assert outcomes == ["queued", "timed_out", "unassigned"]
        assert "rota_decisions_total" in client.get("/metrics").text


def test_a_concurrent_burst_holds_caps_gives_each_contact_once_and_stays_even(server):
    with server.client() as client:

        def route(index: int, tag: str):
            return client.post(f"/v1/contacts/{tag}{index}/route", json={"attrs": {"tags": [tag]}}).json()

        with ThreadPoolExecutor(16) as pool:
            capped = list(pool.map(lambda i: route(i, "capped"), range(40)))
        per_user = Counter(row["user"] for row in capped if row["outcome"] == "assigned")
        assert max(per_user.values()) <= 3 and sum(per_user.values()) == 12
        assert sum(row["outcome"] == "queued" for row in capped) == 28
        with ThreadPoolExecutor(16) as pool:
            even = list(pool.map(lambda i: route(i, "even"), range(40)))
        spread = Counter(row["user"] for row in even)
        assert sum(spread.values()) == 40 and max(spread.values()) - min(spread.values()) <= 1
        decisions = client.get("/v1/decisions", params={"limit": 10_000}).json()
        assigned = Counter(row["contact"] for row in decisions if row["outcome"] == "assigned")
        assert max(assigned.values()) == 1


def test_a_restart_after_sigkill_mid_load_keeps_every_answer(server):
    acknowledged = []
    with server.client() as client:

        def route(index: int):
            try:
                response = client.post(f"/v1/contacts/k{index}/route", json={"attrs": {"tags": ["capped"]}})
                if response.status_code == 200:
                    acknowledged.append(response.json())
            except httpx.HTTPError:
                pass

        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(route, index) for index in range(400)]
            time.sleep(0.5)
            server.stop(kill=True)
            for future in futures:
                future.result()
    assert acknowledged, "nothing was answered before the kill"
    server.start()
    with server.client() as client:
        logged = client.get("/v1/decisions", params={"limit": 10_000}).json()
        first = {}
        for row in logged:
            first.setdefault(row["contact"], row)
        for answer in acknowledged:
            assert first[answer["contact"]]["outcome"] == answer["outcome"]
    server.stop()
    check_invariants(server.directory / "engine.duckdb")


def test_a_failed_commit_answers_503_and_takes_nothing_more(tmp_path, monkeypatch):
    """In process: the engine file stops taking writes (a full disk, say)."""
    import asyncio

    from rota.engine import DurableEngine, Roster, User
    from rota.service import RotaService, create_app

    engine = DurableEngine.open(tmp_path / "engine.duckdb", POLICY, Roster.build([User("u1", status="online")]))
    service = RotaService(engine, TOKEN)

    def disk_full(changes):
        raise OSError("No space left on device")

    async def requests() -> None:
        transport = httpx.ASGITransport(app=create_app(service))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://rota", headers={"Authorization": f"Bearer {TOKEN}"}
        ) as client:
            assert (await client.post("/v1/contacts/c1/route", json={})).json()["outcome"] == "assigned"
            monkeypatch.setattr(engine.store, "commit", disk_full)
            failed = await client.post("/v1/contacts/c2/route", json={})
            assert failed.status_code == 503 and failed.json()["error"]["code"] == "store_failed"
            assert (await client.put("/v1/users/u2", json={"status": "online"})).status_code == 503
            monkeypatch.undo()

    service.start()
    try:
        asyncio.run(requests())
    finally:
        service.stop()
    reopened = DurableEngine.open(tmp_path / "engine.duckdb")
    assert [row.contact for row in reopened.logged()] == ["c1"]
    assert reopened.engine.roster.users["u1"].open == 1 and reopened.events_applied == 1
    reopened.close()
