"""The service's fast path for routing and closing contacts (rota/service/fast_path.py) answers every
request as the application alone does: the same status, headers that matter and body, and the same
state after. Hypothesis sends both the same requests, valid and not."""

import json
import tempfile
from pathlib import Path
from urllib.parse import quote

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rota.engine import DurableEngine, Roster, User
from rota.service import RotaService, create_app

TOKEN = "fast-token"
POLICY = """route vip when "vip" in contact.tags {
  assign to team "VIP"
  using least_open
  only online
  only open < 2
  timeout 30m
}

route rest {
  assign to space
  only online
  only open < 3
}
"""
IDS = st.one_of(
    st.sampled_from(["c1", "c2", "a/b", "x/route", "x/close", "é ü", "", "a" * 257, "c1\n", "c\x7f"]),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=0, max_size=6),
)
AUTHORIZATION = st.sampled_from([f"Bearer {TOKEN}", f"bearer  {TOKEN} ", "Bearer nope", "Basic x", None])
ATTRS = st.dictionaries(
    st.sampled_from(["tags", "assignee", "language", "level"]),
    st.one_of(
        st.none(), st.booleans(), st.integers(-3, 3), st.text(max_size=3), st.lists(st.sampled_from(["vip", "de"]))
    ),
    max_size=3,
)
BODIES = st.one_of(
    st.none(),
    st.just(b""),
    ATTRS.map(lambda attrs: json.dumps({"attrs": attrs}).encode()),
    st.sampled_from([b"{", b"null", b"[]", b'{"attrs": {}, "x": 1}', b'{"attrs": {"n": NaN}}', b'"text"', b"{}"]),
    st.just(b'{"attrs": {"t": "' + b"x" * (300 * 1024) + b'"}}'),
)
CLOCKED = ("at", "deadline", "enqueued_at", "last_assigned_at")
REQUESTS = st.lists(
    st.tuples(st.sampled_from(["route", "close", "route", "state"]), IDS, AUTHORIZATION, BODIES, st.booleans()),
    min_size=1,
    max_size=12,
)


def answers(fast: bool, requests) -> list:
    roster = Roster.build([User("u1"), User("u2"), User("u3", status="away")], [("VIP", "u1"), ("VIP", "u2")])
    with tempfile.TemporaryDirectory() as folder:
        engine = DurableEngine.open(Path(folder) / "engine.duckdb", POLICY, roster)
        with TestClient(
            create_app(RotaService(engine, TOKEN), fast_path=fast), raise_server_exceptions=False
        ) as client:
            seen = [answer_to(client, *request) for request in requests]
            for state in ("/v1/users", "/v1/queue"):
                seen.append(without_clock(client.get(state, headers={"Authorization": f"Bearer {TOKEN}"}).json()))
    return seen


def answer_to(client, action: str, contact: str, authorization, body, as_json: bool):
    headers = {} if authorization is None else {"Authorization": authorization}
    if body is not None and as_json:
        headers["Content-Type"] = "application/json"
    path = f"/v1/contacts/{quote(contact, safe='/')}"
    if action == "state":
        answer = client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
    else:
        answer = client.post(f"{path}/{action}", content=body, headers=headers)
    kept = {name: answer.headers.get(name) for name in ("content-type", "www-authenticate", "allow")}
    return answer.status_code, kept, without_clock(answer.json() if answer.content else None)


def without_clock(value):
    """The instants of an answer, which the wall clock sets, left out."""
    if isinstance(value, dict):
        return {key: without_clock(item) for key, item in value.items() if key not in CLOCKED}
    if isinstance(value, list):
        return [without_clock(item) for item in value]
    return value


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(requests=REQUESTS)
@example(requests=[("route", "c1\n", f"Bearer {TOKEN}", None, False)])  # `$` matches before a final newline
def test_the_fast_path_answers_every_request_as_the_application_does(requests):
    assert answers(True, requests) == answers(False, requests)


def test_the_fast_path_takes_a_plain_route_request(monkeypatch):
    """The property above would also hold with a fast path that never takes a request: this one must."""
    from rota.service import fast_path

    taken = []
    original = fast_path.route_contact

    async def counted(*arguments):
        taken.append(arguments[1])
        return await original(*arguments)

    monkeypatch.setattr(fast_path, "route_contact", counted)
    good = (f"Bearer {TOKEN}", json.dumps({"attrs": {"tags": ["vip"]}}).encode(), True)
    seen = answers(True, [("route", "c1", *good), ("route", "c2", good[0], None, False), ("close", "c1", *good)])
    assert seen[0][0] == 200 and seen[0][2]["user"] in ("u1", "u2") and seen[2][0] == 204
    assert taken == ["c1", "c2"]
