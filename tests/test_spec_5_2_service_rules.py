"""SPEC 5.2, the rules of the contract: strict input, ids, reading users and teams, safe policy changes.

In process (the application over Starlette's test client, a real engine file), one test a rule.
"""

import pytest
from fastapi.testclient import TestClient

from rota.engine import DurableEngine, Roster, User
from rota.service import RotaService, create_app

TOKEN = "rules-token"
POLICY = 'route vip when "vip" in contact.tags {\n  assign to team "VIP"\n  only online\n}\n\nroute rest {\n  assign to space\n  only online\n}\n'


@pytest.fixture
def client(tmp_path):
    roster = Roster.build([User("u1"), User("u2", status="away"), User("a/b")], [("VIP", "u1"), ("VIP", "a/b")])
    engine = DurableEngine.open(tmp_path / "engine.duckdb", POLICY, roster)
    with TestClient(create_app(RotaService(engine, TOKEN)), headers={"Authorization": f"Bearer {TOKEN}"}) as running:
        yield running


def refusal(answer, status: int = 422) -> list[tuple[str, str]]:
    """The (code, part) of each diagnostic of a refused request."""
    assert answer.status_code == status, answer.text
    assert set(answer.json()) == {"error"}
    return [(d["code"], d["file"]) for d in answer.json()["error"]["diagnostics"]]


# ------------------------------------------------------------------ strict input


def test_an_unknown_body_field_is_refused_by_name(client):
    answer = client.put("/v1/users/u1", json={"open": 3, "languages": ["de"]})
    assert refusal(answer) == [("S609", "body.open"), ("S609", "body.languages")]
    assert "`languages`" in answer.json()["error"]["diagnostics"][1]["message"]
    assert refusal(client.post("/v1/contacts/c1/route", json={"attrs": {}, "priority": 1})) == [
        ("S609", "body.priority")
    ]
    assert client.get("/v1/users/u1").json()["attrs"] == {}


@pytest.mark.parametrize(
    "value", [{"a": 1}, [1, 2], [["x"]], float("nan"), float("inf")], ids=["object", "numbers", "nested", "nan", "inf"]
)
def test_an_attribute_value_is_text_a_number_a_bool_a_list_of_texts_or_null(client, value):
    import json

    body = json.dumps({"attrs": {"level": value}}, allow_nan=True)  # NaN and Infinity as Python's json writes them
    answer = client.post("/v1/contacts/c1/route", content=body, headers={"Content-Type": "application/json"})
    assert refusal(answer) == [("S610", "body.attrs.level")]
    fine = {"s": "x", "n": 2, "d": 2.5, "b": True, "l": ["x"], "z": None}
    assert client.post("/v1/contacts/c2/route", json={"attrs": fine}).status_code == 200
    assert client.get("/v1/contacts/c2").json()["attrs"] == fine


def test_statuses_and_built_in_attributes_are_checked(client):
    assert refusal(client.put("/v1/users/u1", json={"status": "busy"})) == [("S605", "body.status")]
    assert refusal(client.put("/v1/users/u1", json={"attrs": {"status": "busy"}})) == [("S605", "body.attrs.status")]
    assert refusal(client.put("/v1/users/u1", json={"attrs": {"deleted": "yes"}})) == [("S608", "body.attrs.deleted")]
    assert refusal(client.post("/v1/contacts/c1/route", json={"attrs": {"assignee": ["u1"]}})) == [
        ("S608", "body.attrs.assignee")
    ]


def test_query_parameters_are_validated(client):
    assert refusal(client.get("/v1/decisions", params={"limit": -1})) == [("S607", "query.limit")]
    assert refusal(client.get("/v1/decisions", params={"limit": 10_001})) == [("S607", "query.limit")]
    assert refusal(client.get("/v1/decisions", params={"outcome": "bogus"})) == [("S607", "query.outcome")]
    assert refusal(client.get("/v1/decisions", params={"since": ""})) == [("S606", "query.since")]
    assert refusal(client.get("/v1/users", params={"status": "busy"})) == [("S607", "query.status")]
    assert client.get("/v1/decisions", params={"limit": 1, "outcome": "assigned"}).status_code == 200


def test_ids_hold_any_text_slashes_included(client):
    assert client.put("/v1/users/team%2Flead", json={"status": "online"}).json()["id"] == "team/lead"
    assert client.get("/v1/users/team/lead").json()["id"] == "team/lead"
    assert client.put("/v1/teams/EU/Night/members/team/lead").status_code == 204
    assert [m["id"] for m in client.get("/v1/teams/EU/Night").json()["members"]] == ["team/lead"]
    routed = client.post("/v1/contacts/chat/42/route", json={})  # `/route` ends the path; the id is `chat/42`
    assert routed.json()["contact"] == "chat/42"
    assert client.get("/v1/contacts/chat/42").json()["assignee"] == routed.json()["user"]
    assert client.post("/v1/contacts/chat/42/close").status_code == 204


def test_an_id_is_not_empty_not_too_long_and_has_no_control_character(client):
    assert refusal(client.put("/v1/users/u%091", json={})) == [("S611", "path.user_id")]
    assert refusal(client.put("/v1/users/u%0A1", json={})) == [("S611", "path")]  # no route takes a newline
    assert refusal(client.put(f"/v1/users/{'u' * 257}", json={})) == [("S611", "path.user_id")]
    assert refusal(client.post("/v1/contacts//route", json={})) == [("S611", "path.contact_id")]
    assert client.put(f"/v1/users/{'u' * 256}", json={}).status_code == 200


# ------------------------------------------------------------------ reading


def test_users_are_listed_in_id_order_by_page_and_filtered(client):
    first = client.get("/v1/users", params={"limit": 2}).json()
    assert [u["id"] for u in first["users"]] == ["a/b", "u1"] and first["next"] == "u1"
    rest = client.get("/v1/users", params={"limit": 2, "after": first["next"]}).json()
    assert [u["id"] for u in rest["users"]] == ["u2"] and rest["next"] is None
    assert [u["id"] for u in client.get("/v1/users", params={"status": "away"}).json()["users"]] == ["u2"]
    assert [u["id"] for u in client.get("/v1/users", params={"team": "VIP"}).json()["users"]] == ["a/b", "u1"]


def test_a_user_is_read_by_id(client):
    user = client.get("/v1/users/u1").json()
    assert (user["id"], user["status"], user["teams"], user["deleted"]) == ("u1", "online", ["VIP"], False)
    assert client.get("/v1/users/ghost").json()["error"]["code"] == "unknown_user"


def test_teams_are_listed_and_read_with_their_members(client):
    assert client.get("/v1/teams").json() == [{"team": "VIP", "members": 2, "members_online": 2}]
    team = client.get("/v1/teams/VIP").json()
    assert [m["id"] for m in team["members"]] == ["a/b", "u1"] and team["members_online"] == 2
    assert client.get("/v1/teams/Nobody").status_code == 404


def test_a_deleted_user_is_gone_until_undeleted_with_deleted_false(client):
    assert client.delete("/v1/users/u1").status_code == 204
    assert client.get("/v1/users/u1").json()["error"]["code"] == "deleted_user"
    assert [u["id"] for u in client.get("/v1/users", params={"deleted": True}).json()["users"]] == ["u1"]
    assert client.post("/v1/contacts/v1/route", json={"attrs": {"tags": ["vip"]}}).json()["user"] == "a/b"
    assert client.put("/v1/users/u1", json={"deleted": False}).json()["deleted"] is False
    assert client.get("/v1/users/u1").json()["teams"] == ["VIP"]  # it keeps its teams and attributes
    assert client.post("/v1/contacts/v2/route", json={"attrs": {"tags": ["vip"]}}).json()["user"] == "u1"


# ------------------------------------------------------------------ policy changes


def test_a_policy_with_no_route_is_refused_unless_asked_for(client):
    before = client.get("/v1/policy").json()["version"]
    assert refusal(client.put("/v1/policy", content="# nothing yet\n")) == [("S612", "body")]
    assert refusal(client.put("/v1/policy", content="")) == [("S612", "body")]
    assert client.get("/v1/policy").json()["version"] == before
    taken = client.put("/v1/policy", params={"allow_empty": True}, content="# nothing yet\n").json()
    assert taken["routes"] == [] and client.get("/v1/policy").json()["version"] == taken["version"]


def test_a_new_policy_carries_the_checkers_warnings_against_the_live_roster(client):
    policy = 'route a {\n  assign to team "Nigth"\n}\n\nroute b {\n  assign to user "ghost"\n}\n'
    answer = client.put("/v1/policy", content=policy)
    assert answer.status_code == 200 and answer.json()["active"] is True
    # E221/E222 as `rota check --snapshot` gives them; V501 as `rota verify`: `a` catches every contact
    assert [(w["code"], w["line"]) for w in answer.json()["warnings"]] == [("E221", 2), ("E222", 6), ("V501", 5)]
    assert client.put("/v1/policy", content=POLICY).json()["warnings"] == []


def test_a_dry_run_checks_without_activating(client):
    before = client.get("/v1/policy").json()["version"]
    answer = client.put("/v1/policy", params={"dry_run": True}, content="route all {\n  unassign\n}\n").json()
    assert answer["active"] is False and answer["routes"] == ["all"] and answer["version"] != before
    assert client.get("/v1/policy").json()["version"] == before
    assert answer["version"] not in {v["version"] for v in client.get("/v1/policies").json()}


def test_the_active_version_is_the_etag_and_if_match_makes_a_concurrent_change_a_409(client):
    read = client.get("/v1/policy")
    etag = read.headers["ETag"]
    assert etag == f'"{read.json()["version"]}"'
    first = client.put("/v1/policy", headers={"If-Match": etag}, content="route all {\n  unassign\n}\n")
    assert first.status_code == 200 and first.headers["ETag"] != etag
    second = client.put("/v1/policy", headers={"If-Match": etag}, content="route mine {\n  assign to space\n}\n")
    assert refusal(second, 409) == [("S613", "header.if-match")]
    assert second.json()["error"]["code"] == "policy_changed"
    assert client.get("/v1/policy").json()["version"] == first.json()["version"]
    rollback = client.post(f"/v1/policies/{read.json()['version']}/activate", headers={"If-Match": etag})
    assert rollback.status_code == 409
    assert client.post(f"/v1/policies/{read.json()['version']}/activate", headers={"If-Match": "*"}).status_code == 200
