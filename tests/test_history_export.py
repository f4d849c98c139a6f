"""The service keeps its history (README "History and export"): every input it applies is kept in the
engine file with its decisions; `rota export` writes a window of it (the state at `--since`, the events
through `--until`, the policy versions) and `rota replay --export` of that folder gives, row for row,
the decisions the service made in the window."""

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
from test_spec_5_2_service import Server

from rota.cli import main
from rota.engine import format_instant
from rota.engine.replay import REPLAY_COLUMNS

# Small caps and 1 s timeouts: contacts queue, time out, go to their branch and fail, and assigned ones
# are released (unanswered, or their assignee away), within seconds.
FIRST_POLICY = """\
route vip when "vip" in contact.tags {
  assign to team "Desk"
  using round_robin
  only online
  only open < 2
  timeout 1s -> anyone
  reassign when away 1s
}

route anyone {
  assign to space
  using least_open
  only online
  only open < 2
  timeout 1s
  reassign when unanswered 1s
}
"""
# Mid-way the desk takes one more each, by least open, and waits a little longer.
SECOND_POLICY = FIRST_POLICY.replace("only open < 2\n  timeout 1s", "only open < 3\n  timeout 2s").replace(
    "using round_robin", "using least_open"
)
TIMEOUTS_FIRE = 1.4  # seconds to sleep for 1 s timeouts to fire (the service ticks every 0.25 s)


def _now() -> str:
    return format_instant(datetime.now(timezone.utc).replace(tzinfo=None))


def _put_users(client, *users: tuple[str, dict]) -> None:
    for user_id, body in users:
        client.put(f"/v1/users/{user_id}", json=body).raise_for_status()


def _route(client, *contacts: tuple[str, list[str]]) -> None:
    for contact_id, tags in contacts:
        client.post(f"/v1/contacts/{contact_id}/route", json={"attrs": {"tags": tags}}).raise_for_status()


def _reply(client, contact_id: str, user_id: str | None = None) -> None:
    """A reply to the contact by `user_id`, by default by its assignee (when it has one)."""
    user_id = user_id or client.get(f"/v1/contacts/{contact_id}").json()["assignee"]
    if user_id is not None:
        client.post(f"/v1/contacts/{contact_id}/reply", json={"user": user_id}).raise_for_status()


def _before_the_window(client) -> None:
    """A desk of three and a fourth user; more vip contacts than the desk takes, so some queue and time out."""
    _put_users(client, ("u1", {"status": "online"}), ("u2", {"status": "online"}), ("u3", {"status": "online"}))
    _put_users(client, ("u4", {"status": "online", "name": "Ana", "attrs": {"level": 2}}))
    for user_id in ("u1", "u2", "u3"):
        client.put(f"/v1/teams/Desk/members/{user_id}").raise_for_status()
    _route(client, *((f"c{index}", ["vip"]) for index in range(8)))
    client.post("/v1/contacts/c0/close").raise_for_status()
    time.sleep(TIMEOUTS_FIRE)  # queued vip contacts time out to `anyone`, and wait there again
    _route(client, *((f"c{index}", []) for index in range(8, 12)))  # held and queued at the window's start
    _reply(client, "c8")


def _in_the_window(client) -> None:
    """Closes, a policy change, user changes and memberships, timeouts firing, more contacts."""
    client.post("/v1/contacts/c1/close").raise_for_status()
    client.put("/v1/policy", content=SECOND_POLICY, headers={"Content-Type": "text/plain"}).raise_for_status()
    _put_users(client, ("u5", {"status": "online", "attrs": {"level": 3}}), ("u2", {"status": "away"}))
    client.put("/v1/teams/Desk/members/u5").raise_for_status()
    client.delete("/v1/teams/Desk/members/u1").raise_for_status()
    _route(client, *((f"d{index}", ["vip"]) for index in range(6)))
    client.delete("/v1/users/u3").raise_for_status()
    client.post("/v1/contacts/c2/close").raise_for_status()
    time.sleep(TIMEOUTS_FIRE)
    _put_users(client, ("u2", {"status": "online"}))
    _route(client, ("c1", ["vip"]), ("e1", []), ("e2", ["vip"]))
    _reply(client, "e1")
    _reply(client, "c9", "u9")  # not its assignee: changes nothing
    client.post("/v1/contacts/d0/close").raise_for_status()
    time.sleep(2 + TIMEOUTS_FIRE)  # the second policy's 2 s, then `anyone`'s 1 s


def _service_rows(client, since: str, until: str) -> list[dict]:
    rows = client.get("/v1/decisions", params={"since": since, "limit": 10_000}).json()
    return [{name: row[name] for name in REPLAY_COLUMNS} for row in rows if row["at"] <= until]


def _rota(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """A live service driven through a history; the window starts after its first part."""
    directory = tmp_path_factory.mktemp("history")
    server = Server(directory)
    (directory / "policy.rota").write_text(FIRST_POLICY)
    server.start()
    with server.client() as client:
        _before_the_window(client)
        since = _now()
        time.sleep(0.01)
        _in_the_window(client)
        until = _now()
    yield server, since, until
    server.stop()


def test_a_replay_of_an_export_gives_every_decision_the_service_made_in_the_window(history, tmp_path, capsys):
    server, since, until = history
    folder, out = tmp_path / "export", tmp_path / "replayed.jsonl"
    token = ("--token-file", str(server.directory / "token"))
    code, _, err = _rota(capsys, "export", "--url", server.url, *token, "--since", since, "--until", until, str(folder))
    assert code == 0, err
    with server.client() as client:  # after the export, which fired every timer due by then (a tick may lag)
        service_rows = _service_rows(client, since, until)
    code, _, err = _rota(capsys, "replay", "--export", str(folder), "--out", str(out))
    assert code == 0, err
    replayed = [json.loads(line) for line in out.read_text().splitlines()]
    assert replayed == service_rows
    outcomes = {row["outcome"] for row in service_rows}
    assert {"assigned", "queued", "timed_out", "failed", "released"} <= outcomes  # all of these to compare
    manifest = json.loads((folder / "export.json").read_text())
    assert manifest["since"] == since and manifest["until"] <= until and len(list((folder / "policies").iterdir())) == 2


def test_the_export_holds_the_state_at_since_and_the_events_after_it(history, tmp_path, capsys):
    server, since, until = history
    folder = tmp_path / "export"
    token = ("--token-file", str(server.directory / "token"))
    assert _rota(capsys, "export", "--url", server.url, *token, "--since", since, "--until", until, str(folder))[0] == 0
    contacts = [json.loads(line) for line in (folder / "snapshot" / "contacts.jsonl").read_text().splitlines()]
    assert any(contact["queue"] for contact in contacts) and any(contact["assignee"] for contact in contacts)
    assert {
        "id": "c0",
        "assignee": None,
        "closed": True,
        "attrs": {"tags": ["vip"]},
        "queue": None,
        "released_from": [],
        "timers": [],
    } in contacts
    events = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
    assert events[0] == {"at": events[0]["at"], "type": "close", "contact": "c1"} and events[0]["at"] >= since
    assert [event["type"] for event in events].count("policy") == 1
    last_reply = [event for event in events if event["type"] == "reply"][-1]
    assert last_reply == {"at": last_reply["at"], "type": "reply", "contact": "c9", "user": "u9"}
    users = [json.loads(line) for line in (folder / "snapshot" / "users.jsonl").read_text().splitlines()]
    assert [user["id"] for user in users] == ["u1", "u2", "u3", "u4"] and users[3]["level"] == 2
    lines = (folder / "events.jsonl").read_text().splitlines()
    policy_line = next(number for number, event in enumerate(events) if event["type"] == "policy")
    lines[policy_line] = json.dumps({**events[policy_line], "version": "nope"})
    (folder / "events.jsonl").write_text("\n".join(lines) + "\n")
    code, _, err = _rota(capsys, "replay", "--export", str(folder), "--out", str(tmp_path / "out.jsonl"))
    assert code == 2 and f"events.jsonl:{policy_line + 1}: policy version 'nope' is not among the export's" in err


def test_an_export_says_when_the_window_is_not_in_the_history(history, tmp_path, capsys):
    server, since, until = history
    token = ("--token-file", str(server.directory / "token"))
    long_before = format_instant(datetime(2020, 1, 1))
    code, _, err = _rota(capsys, "export", "--url", server.url, *token, "--since", long_before, "--until", until, "x")
    assert code == 2 and "the kept history begins at " in err and "start the window there or later" in err
    code, _, err = _rota(capsys, "export", "--url", server.url, *token, "--since", until, "--until", since, "x")
    assert code == 2 and "rota: error: --until is before --since" in err
    with server.client() as client:
        answer = client.get("/v1/export", params={"since": until, "until": since})
        assert answer.status_code == 422 and answer.json()["error"]["diagnostics"][0]["code"] == "S621"
        later = format_instant(datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(days=1))
        answer = client.get("/v1/export", params={"since": later, "until": later})
        assert answer.status_code == 422 and answer.json()["error"]["diagnostics"][0]["code"] == "S620"


def test_a_policy_event_is_read_only_from_an_export(tmp_path, capsys):
    (tmp_path / "policy.rota").write_text(FIRST_POLICY)
    (tmp_path / "snapshot").mkdir()
    (tmp_path / "snapshot" / "users.csv").write_text("id,status\nu1,online\n")
    (tmp_path / "events.jsonl").write_text('{"at": "2026-01-01T00:00:00Z", "type": "policy", "version": "abc"}\n')
    code, _, err = _rota(
        capsys, "replay", str(tmp_path / "policy.rota"), "--snapshot", str(tmp_path / "snapshot"),
        "--events", str(tmp_path / "events.jsonl"), "--out", str(tmp_path / "out.jsonl"),
    )  # fmt: skip
    assert (
        code == 2 and "events.jsonl:1: a `policy` event is read only from an export: run `rota replay --export" in err
    )
