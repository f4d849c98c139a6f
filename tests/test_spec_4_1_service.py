"""SPEC 4.1 in `rota serve` (5.2): `POST /v1/contacts/{id}/reply`, a contact's timers and released users,
`released` rows in the decision log and releases counted in `/metrics`.

In process (the application over Starlette's test client, a real engine file); the service's clock is
moved on by replacing `utc_now`, so a timer comes due without waiting for it.
"""

import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

import rota.service.core
from rota.engine import DurableEngine, Roster, User, format_instant, parse_instant
from rota.service import RotaService, create_app

TOKEN = "reassign-token"
POLICY = "route desk {\n  assign to space\n  only online\n  reassign when unanswered 5m\n  reassign when away 10m\n}\n"
RELEASES_BY_DESK = 'rota_releases_total{reason="unanswered",route="desk"} 1.0'


@pytest.fixture
def service(tmp_path):
    roster = Roster.build([User("u1"), User("u2")])
    return RotaService(DurableEngine.open(tmp_path / "engine.duckdb", POLICY, roster), TOKEN)


@pytest.fixture
def client(service):
    with TestClient(create_app(service), headers={"Authorization": f"Bearer {TOKEN}"}) as running:
        yield running


def timers(client, contact: str) -> list[tuple[str, str, str | None]]:
    return [
        (timer["trigger"], timer["route"], timer["due"])
        for timer in client.get(f"/v1/contacts/{contact}").json()["timers"]
    ]


def test_a_contact_shows_its_timers_and_a_reply_by_its_assignee_clears_unanswered(client):
    decision = client.post("/v1/contacts/c1/route", json={}).json()
    assert (decision["outcome"], decision["user"]) == ("assigned", "u1")
    unanswered_due = format_instant(parse_instant(decision["at"]) + timedelta(minutes=5))
    shown = timers(client, "c1")
    assert shown == [("unanswered", "desk", unanswered_due), ("away", "desk", None)]  # away runs not: u1 is online
    assert client.get("/v1/contacts/c1").json()["released"] == []
    assert client.post("/v1/contacts/c1/reply", json={"user": "u2"}).status_code == 204
    assert timers(client, "c1") == shown  # a reply by anyone else changes nothing
    assert client.post("/v1/contacts/c1/reply", json={"user": "u1"}).status_code == 204
    assert timers(client, "c1") == shown[1:]


def test_a_reply_names_a_known_contact_and_only_a_user(client):
    assert client.post("/v1/contacts/nobody/reply", json={"user": "u1"}).status_code == 404
    client.post("/v1/contacts/c1/route", json={})
    for body in ({}, {"user": 1}, {"user": "u1", "text": "hello"}):
        answer = client.post("/v1/contacts/c1/reply", json=body)
        assert answer.status_code == 422, body
    assert [
        d["file"]
        for d in client.post("/v1/contacts/c1/reply", json={"user": "u1", "x": 1}).json()["error"]["diagnostics"]
    ] == ["body.x"]


def test_a_release_is_logged_counted_and_shown_on_the_contact(client, service, monkeypatch):
    start = rota.service.core.utc_now()
    assert client.post("/v1/contacts/c1/route", json={}).json()["user"] == "u1"
    monkeypatch.setattr(rota.service.core, "utc_now", lambda: start + timedelta(minutes=6))
    service.fire_timeouts()
    rows = [(row["outcome"], row["user"], row["reason"]) for row in client.get("/v1/decisions").json()]
    assert rows == [
        ("assigned", "u1", "round_robin"),
        ("released", "u1", "unanswered"),
        ("assigned", "u2", "round_robin"),
    ]
    assert [row["user"] for row in client.get("/v1/decisions", params={"outcome": "released"}).json()] == ["u1"]
    state = client.get("/v1/contacts/c1").json()
    assert (state["assignee"], state["released"]) == ("u2", ["u1"])
    deadline = time.monotonic() + 5  # the writer counts a commit's decisions just after it wakes the request
    while RELEASES_BY_DESK not in client.get("/metrics").text and time.monotonic() < deadline:
        time.sleep(0.05)
    assert RELEASES_BY_DESK in client.get("/metrics").text
