"""The service explains past decisions from the notes it keeps with them (rota.explain.inputs), without a replay.

The property: on generated runs, every decision the service's engine made is
explained from its notes exactly as a replay of the same events explains it
(`explain_run`, state just before the decision), with notes holding every
user only every few decisions so the changes between them are laid over.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_explain import POLICIES

from rota.cli import main
from rota.engine import Event, Roster, User
from rota.explain import explain_run
from rota.explain import inputs as noted
from rota.explain.inputs import ExplainedDurableEngine
from rota.service import RotaService, create_app
from rota.service.explain_api import explain_decision
from rota.testing import event_logs, snapshots, vocabulary

TOKEN = "test-token-0123456789"


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_the_service_explains_each_decision_as_a_replay_does(monkeypatch, data):
    monkeypatch.setattr(noted, "WHOLE_EVERY", 3)
    policy = data.draw(st.sampled_from(POLICIES))
    words = vocabulary(policy)
    snapshot = data.draw(snapshots(words))
    log = data.draw(event_logs(words, max_events=15))
    user = data.draw(st.sampled_from((None, *words.user_ids)))
    replayed = explain_run(policy, snapshot.roster(), log.events, lambda d: True, user, log.until)
    with tempfile.TemporaryDirectory() as directory:
        engine = ExplainedDurableEngine.open(Path(directory) / "engine.duckdb", policy_text(policy), snapshot.roster())
        for index, event in enumerate(sorted(log.events, key=lambda e: e.at)):
            if event.at <= log.until:
                engine.handle(event)
            if index % 2:
                engine.commit()
        engine.advance(log.until)
        engine.commit()
        served = [explain_decision(engine, seq, user) for seq in range(engine.last_committed_seq() + 1)]
        engine.close()
    assert [e.to_json() for e in served] == [e.to_json() for e in replayed]


def policy_text(policy) -> str:
    from rota.dsl import format_policy

    return format_policy(policy.policy)


POLICY = 'route desk { assign to team "Desk" using least_open only online only open < 2 }\n'


@pytest.fixture
def service(tmp_path):
    people = Roster.build(
        [User("ann"), User("bob", open=2), User("cyd", status="away")], [("Desk", u) for u in "ann bob cyd".split()]
    )
    engine = ExplainedDurableEngine.open(tmp_path / "engine.duckdb", POLICY, people)
    running = RotaService(engine, TOKEN)
    running.start()
    yield running
    running.stop()


def ask(service, *paths: str) -> list[httpx.Response]:
    async def requests() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=create_app(service))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://rota", headers={"Authorization": f"Bearer {TOKEN}"}
        ) as client:
            answers = [await client.post("/v1/contacts/c1/route", json={})]
            for path in paths:
                answers.append(await client.get(path))
            return answers

    return asyncio.run(requests())


def test_get_explain_answers_the_pool_the_filters_and_why_not_a_user(service):
    routed, answer = ask(service, "/v1/decisions/0/explain?user=bob")
    assert routed.json()["user"] == "ann" and answer.status_code == 200
    body = answer.json()
    assert [(step["only"], step["dropped"]) for step in body["filters"]] == [("only online", 1), ("only open < 2", 1)]
    assert body["tie_break"]["winner"]["id"] == "ann"
    assert body["user"]["says"] == "`only open < 2` dropped bob: open is 2"


def test_an_unknown_decision_is_404(service):
    _, answer = ask(service, "/v1/decisions/7/explain")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "unknown_decision"


def test_rota_explain_url_prints_the_services_answer(service, monkeypatch, capsys):
    _, answer = ask(service, "/v1/decisions/0/explain?user=cyd")
    monkeypatch.setattr("rota.remote.get_json", lambda url, path, token, query: answer.json())
    monkeypatch.setenv("ROTA_TOKEN", TOKEN)
    assert main(["explain", "--url", "http://127.0.0.1:9", "--seq", "0", "--user", "cyd"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("decision 0 at ") and "user cyd: `only online` dropped cyd: online is false" in out


def test_a_note_holds_only_the_users_changed_since_the_last(tmp_path):
    people = Roster.build([User(f"u{i}") for i in range(10)], [("Desk", f"u{i}") for i in range(10)])
    engine = ExplainedDurableEngine.open(tmp_path / "engine.duckdb", POLICY, people)
    for minute in range(3):
        engine.handle(Event(at=noted.parse_instant(f"2026-11-25T09:0{minute}:00Z"), type="route", contact=f"c{minute}"))
    engine.commit()
    notes = [json.loads(body) for _, body in engine.store.decision_inputs(2)]
    assert [len(note["users"]) for note in notes] == [10, 1, 1]  # the first holds all; then the one just chosen
    engine.close()
