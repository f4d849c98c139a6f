"""`rota log --url` and `rota status --url`: the command line reading a running `rota serve`
(in a subprocess on a free loopback port, as in test_spec_5_2_service), and `rota log --db`
on the file that service holds."""

import json

import pytest
from test_spec_5_2_service import TOKEN, Server, free_port

from rota.cli import main
from rota.remote import TOKEN_VARIABLE


def _desk(server: Server) -> None:
    """4 users online, each capped at 3 open: 14 contacts give 12 assigned and 2 queued; one closed
    gives its place to the first queued; one routed on the uncapped route; u4 goes away."""
    with server.client() as client:
        for user_id in ("u1", "u2", "u3", "u4"):
            assert client.put(f"/v1/users/{user_id}", json={"status": "online"}).status_code == 200
        for index in range(14):
            client.post(f"/v1/contacts/c{index}/route", json={"attrs": {"tags": ["capped"]}}).raise_for_status()
        client.post("/v1/contacts/c0/close").raise_for_status()
        client.post("/v1/contacts/e1/route", json={"attrs": {}}).raise_for_status()
        assert client.put("/v1/users/u4", json={"status": "away"}).status_code == 200


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    running = Server(tmp_path_factory.mktemp("desk")).start()
    _desk(running)
    yield running
    running.stop()


def _rota(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


LOG_QUERIES = [
    (),
    ("--outcome", "queued"),
    ("--user", "u2", "--route", "capped"),
    ("--contact", "c12"),
    ("--limit", "3"),
    ("--format", "json"),
    ("--outcome", "assigned", "--limit", "5", "--format", "json"),
]


def test_log_over_url_prints_what_log_db_prints_on_the_same_file(tmp_path, capsys):
    server = Server(tmp_path).start()
    _desk(server)
    token_file = str(tmp_path / "token")
    live = [_rota(capsys, "log", "--url", server.url, "--token-file", token_file, *query) for query in LOG_QUERIES]
    server.stop()
    on_file = [_rota(capsys, "log", "--db", str(tmp_path / "engine.duckdb"), *query) for query in LOG_QUERIES]
    assert live == on_file
    assert all(code == 0 and out for code, out, _ in live)
    every = [json.loads(line) for line in live[LOG_QUERIES.index(("--format", "json"))][1].splitlines()]
    assert [row["outcome"] for row in every].count("queued") == 2 and len(every) == 16  # 14 + e1 + c12 drained
    since = every[-2]["at"]
    code, out, _ = _rota(capsys, "log", "--db", str(tmp_path / "engine.duckdb"), "--since", since, "--format", "json")
    assert [json.loads(line) for line in out.splitlines()] == every[-2:]


def test_log_over_url_with_since_and_the_token_from_the_environment(desk, capsys, monkeypatch):
    monkeypatch.setenv(TOKEN_VARIABLE, TOKEN)
    code, out, _ = _rota(capsys, "log", "--url", desk.url, "--format", "json")
    every = [json.loads(line) for line in out.splitlines()]
    code, out, _ = _rota(capsys, "log", "--url", desk.url + "/", "--since", every[-3]["at"], "--format", "json")
    assert code == 0 and [json.loads(line) for line in out.splitlines()] == every[-3:]


def test_log_over_url_says_when_the_service_gave_fewer_than_asked(desk, capsys, monkeypatch):
    import rota.service.decisions_api

    monkeypatch.setattr(rota.service.decisions_api, "DECISIONS_AT_MOST", 4)
    code, out, err = _rota(capsys, "log", "--url", desk.url, "--token-file", str(desk.directory / "token"))
    assert code == 0 and len(out.splitlines()) == 1 + 4  # the header, the newest 4
    assert "the service answers at most 4 decisions at a time: these are the newest" in err
    code, out, err = _rota(
        capsys, "log", "--url", desk.url, "--token-file", str(desk.directory / "token"), "--limit", "4"
    )
    assert code == 0 and len(out.splitlines()) == 1 + 4 and err == ""  # as many as asked: nothing to say


def test_status_gives_the_queue_users_online_and_open_counts(desk, capsys):
    token = ("--token-file", str(desk.directory / "token"))
    code, out, _ = _rota(capsys, "status", "--url", desk.url, *token, "--format", "json")
    status = json.loads(out)
    assert code == 0
    assert status["queue_length"] == 1 and status["users_online"] == 3 and status["open_contacts"] == 13
    assert [(user["id"], user["status"], user["open"]) for user in status["users"]] == [
        ("u1", "online", 4),  # 3 capped, one closed, c12 drained to it, then e1: the first turn of the rotation
        ("u2", "online", 3),
        ("u3", "online", 3),
        ("u4", "away", 3),
    ]
    with desk.client() as client:
        assert client.get("/v1/status").json() == status
    code, out, _ = _rota(capsys, "status", "--url", desk.url, *token)
    lines = [line.split() for line in out.splitlines()]
    assert lines[:3] == [
        ["queue", "1", "contact", "waiting"],
        ["users", "online", "3", "of", "4", "users"],
        ["open", "contacts", "13"],
    ]
    assert ["u4", "away", "3"] in lines


@pytest.mark.parametrize("command", ["log", "status"])
def test_each_way_of_not_reaching_the_service_is_one_line(desk, command, capsys, monkeypatch, tmp_path):
    monkeypatch.delenv(TOKEN_VARIABLE, raising=False)
    (tmp_path / "wrong").write_text("not-the-token\n")
    nobody = f"http://127.0.0.1:{free_port()}"
    cases = {
        (
            "--url",
            nobody,
            "--token-file",
            str(desk.directory / "token"),
        ): f"no rota service at {nobody}: connection refused",
        (
            "--url",
            desk.url,
            "--token-file",
            str(tmp_path / "wrong"),
        ): f"the token is not valid for the rota service at {desk.url} (HTTP 403)",
        ("--url", desk.url): "--url needs the service's token: pass --token-file FILE",
        ("--url", desk.url, "--token-file", str(tmp_path / "missing")): "missing: no such token file",
        (
            "--url",
            "127.0.0.1:8080",
            "--token-file",
            str(tmp_path / "wrong"),
        ): "--url '127.0.0.1:8080' is not the address of a service",
    }
    for argv, said in cases.items():
        code, out, err = _rota(capsys, command, *argv)
        assert (code, out) == (2, ""), argv
        assert err.startswith("rota: error: ") and said in err and len(err.splitlines()) == 1, err


def test_log_db_on_the_file_of_a_running_service_says_to_use_url(desk, capsys):
    code, out, err = _rota(capsys, "log", "--db", str(desk.directory / "engine.duckdb"))
    assert code == 2 and out == ""
    assert "engine.duckdb: in use by another process (PID " in err
    assert "to read a running service's log, use `rota log --url URL`" in err and len(err.splitlines()) == 1


def test_log_takes_db_or_url_and_a_token_file_only_with_url(tmp_path, capsys):
    with pytest.raises(SystemExit) as neither:
        main(["log"])
    with pytest.raises(SystemExit) as both:
        main(["log", "--db", "x.duckdb", "--url", "http://127.0.0.1:1"])
    assert neither.value.code == both.value.code == 2
    capsys.readouterr()
    code, _, err = _rota(capsys, "log", "--db", str(tmp_path / "x.duckdb"), "--token-file", "token")
    assert code == 2 and "--token-file goes with --url" in err
