"""Issue 8: every command, every broken input. Each is one line naming the thing and what
to do, exit 0, 1 or 2, never a library's words (DuckDB's, Python's), and a command that
stopped leaves nothing new behind. A used engine file is never taken for a fresh one."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rota.cli import main
from rota.engine import DurableEngine, Roster, User, load_roster
from rota.engine.provenance import EventLog, Run, RunMismatch
from rota.engine.replay import load_events
from rota.jobs import replay_file
from rota.storage import load_snapshot, read_events

DEMO = Path(__file__).parent.parent / "policies" / "demo"
SNAPSHOT = str(DEMO / "snapshot")
CONTACTS = str(DEMO / "contacts.jsonl")
POLICY = (DEMO / "desk.rota").read_text()
OTHER_POLICY = "route general {\n  assign to space\n  using round_robin\n}\n"
EVENTS = (DEMO / "events.jsonl").read_text()
FREE_PORT = "<a free port>"
# What a library says, never the user: DuckDB's error classes, Python's exceptions and codecs.
LIBRARY_WORDS = (
    "Traceback",
    "Error:",
    "Exception",
    "Errno",
    "codec",
    "_duckdb",
    "duckdb.org",
    "lock is held",
    'File "',
)

Setup = Callable[[Path], None]


def replay(*more: str, policy: str = "desk.rota", events: str = "events.jsonl") -> list[str]:
    return ["replay", policy, "--snapshot", SNAPSHOT, "--events", events, "--out", "out.jsonl", *more]


def batch(*more: str, policy: str = "desk.rota") -> list[str]:
    return ["batch", policy, "--snapshot", SNAPSHOT, "--contacts", CONTACTS, "--out", "out.csv", *more]


def serve(*more: str, policy: str = "desk.rota", db: str = "engine.duckdb") -> list[str]:
    return ["serve", "--db", db, "--policy", policy, "--port", FREE_PORT, *more]


def log(*more: str, db: str = "engine.duckdb") -> list[str]:
    return ["log", "--db", db, *more]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(capsys, argv: list[str]) -> tuple[int, str, str]:
    code = main([str(free_port()) if arg == FREE_PORT else arg for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def everything_in(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*")}


def assert_said_plainly(code: int, out: str, err: str, fragment: str, expected_code: int) -> None:
    assert code == expected_code, (code, out, err)
    assert fragment in out + err, out + err
    for words in LIBRARY_WORDS:
        assert words not in out + err, f"{words!r} reached the user: {out + err}"
    if expected_code == 2:  # one line says what stopped the command (the data's warnings may come before it)
        said = [line for line in err.strip().splitlines() if not line.startswith("rota: warning: ")]
        assert len(said) == 1 and said[0].startswith("rota: error: "), err


# ----------------------------------------------------------------- inputs


def written(name: str, content: bytes | str) -> Setup:
    def make(folder: Path) -> None:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)

    return make


def folder_named(name: str) -> Setup:
    return lambda folder: (folder / name).mkdir()


def duckdb_database(name: str) -> Setup:
    """A DuckDB file of some other program."""

    def make(folder: Path) -> None:
        connection = duckdb.connect(str(folder / name))
        connection.execute("CREATE TABLE invoices (id INTEGER)")
        connection.close()

    return make


def a_replay_of(policy_text: str, name: str = "engine.duckdb") -> Setup:
    def make(folder: Path) -> None:
        (folder / "first.rota").write_text(policy_text)
        replay_file(
            folder / "first.rota", SNAPSHOT, DEMO / "events.jsonl", folder / "first.jsonl", None, None, folder / name
        )

    return make


def a_served_file(name: str = "engine.duckdb") -> Setup:
    """What `rota serve` without --snapshot leaves after a user was added over the API."""

    def make(folder: Path) -> None:
        roster = Roster.build([User("u1", status="online")])
        DurableEngine.open(folder / name, POLICY, roster, "desk.rota", run=Run.serve("desk.rota", None)).close()

    return make


NOT_UTF8 = POLICY.encode() + b"# caf\xe9\n"
MIXED_ENDINGS = POLICY.replace("\n", "\r\n", 5).encode()
EVENT = '{"at": "2026-11-25T09:00:00Z", "type": "close", "contact": "c001"}'
NOT_UTF8_EVENTS = b'{"at": "2026-11-25T09:00:00Z", "type": "close", "contact": "caf\xe9"}\n'

CASES = {
    # policy files
    "check, policy not UTF-8": (
        written("bad.rota", NOT_UTF8),
        ["check", "bad.rota"],
        "bad.rota: cannot read: not UTF-8",
        2,
    ),
    "fmt, policy not UTF-8": (
        written("bad.rota", NOT_UTF8),
        ["fmt", "bad.rota"],
        "bad.rota: cannot read: not UTF-8",
        2,
    ),
    "batch, policy not UTF-8": (
        written("bad.rota", NOT_UTF8),
        batch(policy="bad.rota"),
        "bad.rota: cannot read: not UTF-8",
        2,
    ),
    "replay, policy not UTF-8": (
        written("bad.rota", NOT_UTF8),
        replay(policy="bad.rota"),
        "bad.rota: cannot read: not UTF-8",
        2,
    ),
    "verify, policy not UTF-8": (
        written("bad.rota", NOT_UTF8),
        ["verify", "bad.rota", "--examples", "1"],
        "bad.rota: cannot read: not UTF-8",
        2,
    ),
    "simulate, policy not UTF-8": (
        written("bad.rota", NOT_UTF8),
        ["simulate", "bad.rota", "--snapshot", SNAPSHOT, "--report", "r.html"],
        "bad.rota: cannot read: not UTF-8",
        2,
    ),
    "serve, policy not UTF-8": (
        written("bad.rota", NOT_UTF8),
        serve(policy="bad.rota"),
        "bad.rota: cannot read: not UTF-8",
        2,
    ),
    "check, a byte-order mark": (
        written("bom.rota", b"\xef\xbb\xbf" + POLICY.encode()),
        ["check", "bom.rota"],
        "no problems",
        0,
    ),
    "check, mixed line endings": (written("mixed.rota", MIXED_ENDINGS), ["check", "mixed.rota"], "no problems", 0),
    "replay, mixed line endings": (written("mixed.rota", MIXED_ENDINGS), replay(policy="mixed.rota"), "replayed", 0),
    "check, an empty policy folder": (folder_named("desk"), ["check", "desk"], "desk: no .rota files", 2),
    "replay, an empty policy folder": (folder_named("desk"), replay(policy="desk"), "desk: no .rota files", 2),
    "batch, an empty policy folder": (folder_named("desk"), batch(policy="desk"), "desk: no .rota files", 2),
    "serve, an empty policy folder": (folder_named("desk"), serve(policy="desk"), "desk: no .rota files", 2),
    "check, no policy": (None, ["check", "gone.rota"], "gone.rota: cannot read: ", 2),
    "replay, no policy": (None, replay(policy="gone.rota"), "gone.rota: no such policy", 2),
    "serve, no policy": (None, serve(policy="gone.rota"), "gone.rota: cannot read", 2),
    # event logs
    "events, malformed JSON": (
        written("bad.jsonl", EVENT + "\n" + EVENT[:-1] + "\n"),
        None,
        "bad.jsonl:2: not a JSON",
        2,
    ),
    "events, no `at`": (
        written("bad.jsonl", '{"type": "close", "contact": "c1"}\n'),
        None,
        "bad.jsonl:1: the event has no `at`",
        2,
    ),
    "events, unknown type": (
        written("bad.jsonl", EVENT.replace('"close"', '"reopen"') + "\n"),
        None,
        "bad.jsonl:1: unknown event type 'reopen'",
        2,
    ),
    "events, unknown status": (
        written("bad.jsonl", '{"at": "2026-11-25T09:00:00Z", "type": "status", "user": "u01", "status": "busy"}\n'),
        None,
        'bad.jsonl:1: unknown status "busy"; use online, away, offline',
        2,
    ),
    "events, a user with an unknown status": (
        written(
            "bad.jsonl", '{"at": "2026-11-25T09:00:00Z", "type": "user", "user": "u9", "attrs": {"status": "zzz"}}\n'
        ),
        None,
        'bad.jsonl:1: unknown status "zzz"',
        2,
    ),
    "events, bad time": (
        written("bad.jsonl", EVENT.replace("2026-11-25T09:00:00Z", "yesterday") + "\n"),
        None,
        "bad.jsonl:1: `at` must be an ISO 8601 time",
        2,
    ),
    "events, a field missing": (
        written("bad.jsonl", '{"at": "2026-11-25T09:00:00Z", "type": "close"}\n'),
        None,
        "bad.jsonl:1: a `close` event needs `contact`",
        2,
    ),
    "events, a line not an object": (
        written("bad.jsonl", "[1, 2]\n"),
        None,
        "bad.jsonl:1: each line must be a JSON object",
        2,
    ),
    "events, mixed line endings": (
        written("bad.jsonl", EVENTS.replace("\n", "\r\n", 9)),
        None,
        "replayed 93 events",
        0,
    ),
    "events, a folder": (folder_named("bad.jsonl"), None, "bad.jsonl: is a folder", 2),
    "events, none": (None, None, "bad.jsonl: no such event log", 2),
    # engine files
    "replay --db, not a DuckDB file": (
        written("engine.duckdb", "hello\n"),
        replay("--db", "engine.duckdb"),
        "engine.duckdb: not a DuckDB file",
        2,
    ),
    "serve --db, not a DuckDB file": (
        written("engine.duckdb", "hello\n"),
        serve(),
        "engine.duckdb: not a DuckDB file",
        2,
    ),
    "log --db, not a DuckDB file": (written("engine.duckdb", "hello\n"), log(), "engine.duckdb: not a DuckDB file", 2),
    "replay --db, an empty file": (
        written("engine.duckdb", ""),
        replay("--db", "engine.duckdb"),
        "engine.duckdb: is empty",
        2,
    ),
    "log --db, an empty file": (written("engine.duckdb", ""), log(), "engine.duckdb: is empty", 2),
    "replay --db, a folder": (
        folder_named("engine.duckdb"),
        replay("--db", "engine.duckdb"),
        "engine.duckdb: is a folder",
        2,
    ),
    "serve --db, a folder": (folder_named("engine.duckdb"), serve(), "engine.duckdb: is a folder", 2),
    "log --db, a folder": (folder_named("engine.duckdb"), log(), "engine.duckdb: is a folder", 2),
    "replay --db, no such folder": (None, replay("--db", "nowhere/engine.duckdb"), "folder nowhere does not exist", 2),
    "serve --db, no such folder": (None, serve(db="nowhere/engine.duckdb"), "folder nowhere does not exist", 2),
    "log --db, no such file": (None, log(), "engine.duckdb: no such engine file", 2),
    "replay --db, another program's database": (
        duckdb_database("engine.duckdb"),
        replay("--db", "engine.duckdb"),
        "engine.duckdb: a DuckDB database, but not a rota engine file",
        2,
    ),
    "log --db, another program's database": (
        duckdb_database("engine.duckdb"),
        log(),
        "not a rota engine file",
        2,
    ),
    "replay --out, no such folder": (
        None,
        [
            "replay",
            "desk.rota",
            "--snapshot",
            SNAPSHOT,
            "--events",
            "events.jsonl",
            "--out",
            "nowhere/o.jsonl",
            "--db",
            "engine.duckdb",
        ],
        "o.jsonl: folder nowhere does not exist",
        2,
    ),
    # a used --db holds another run
    "replay --db holding another policy's replay": (
        a_replay_of(OTHER_POLICY),
        replay("--db", "engine.duckdb"),
        "this run has policy",
        2,
    ),
    "replay --db holding a served engine": (
        a_served_file(),
        replay("--db", "engine.duckdb"),
        "engine.duckdb: is the engine file of a `rota serve` (policy",
        2,
    ),
    "serve --db holding a replay": (
        a_replay_of(POLICY),
        serve(),
        "engine.duckdb: holds a replay of policy",
        2,
    ),
    "serve --snapshot on a file with users": (
        a_served_file(),
        serve("--snapshot", SNAPSHOT),
        "engine.duckdb: already holds 1 user, from no snapshot; --snapshot only seeds a new engine file",
        2,
    ),
    # tokens, hosts, ports
    "serve, no such token file": (None, serve("--token-file", "token"), "token: no such token file", 2),
    "serve, a webhook that is not http": (
        None,
        serve("--webhook", "ftp://platform/hook"),
        "--webhook ftp://platform/hook: not an http(s) URL; give one such as http://host:port/path",
        2,
    ),
    "serve, an empty webhook secret file": (
        written("secret", "\n"),
        serve("--webhook", "http://127.0.0.1:9/hook", "--webhook-secret-file", "secret"),
        "secret: the webhook secret file is empty",
        2,
    ),
    "serve, a webhook secret without a webhook": (
        written("secret", "s3cret"),
        serve("--webhook-secret-file", "secret"),
        "--webhook-secret-file signs the webhook's posts; give --webhook URL too",
        2,
    ),
    "serve, a webhook timeout of zero": (
        None,
        serve("--webhook", "http://127.0.0.1:9/hook", "--webhook-timeout", "0"),
        "--webhook-timeout 0: give a number of seconds above 0, up to 300",
        2,
    ),
    "serve, an empty token file": (
        written("token", "\n"),
        serve("--token-file", "token"),
        "token: the token file is empty",
        2,
    ),
    "serve, a folder as the token file": (
        folder_named("token"),
        serve("--token-file", "token"),
        "token: cannot read the token file",
        2,
    ),
    "serve, no such host": (None, serve("--host", "nowhere.invalid"), "--host nowhere.invalid: no such host", 2),
    "serve, not this machine's address": (
        None,
        serve("--host", "192.0.2.1"),
        "--host 192.0.2.1 is not an address of this machine",
        2,
    ),
    "serve, port -1": (
        None,
        ["serve", "--db", "engine.duckdb", "--policy", "desk.rota", "--port", "-1"],
        "--port -1 is not a port",
        2,
    ),
    "serve, port 70000": (
        None,
        ["serve", "--db", "engine.duckdb", "--policy", "desk.rota", "--port", "70000"],
        "--port 70000 is not a port",
        2,
    ),
    # option values
    "batch --now": (None, batch("--now", "yesterday"), "--now 'yesterday' is not an ISO 8601 time", 2),
    "replay --until": (None, replay("--until", "later"), "--until 'later' is not an ISO 8601 time", 2),
    "log --since": (a_replay_of(POLICY), log("--since", "monday"), "--since 'monday' is not an ISO 8601 time", 2),
    "log --limit -1": (
        a_replay_of(POLICY),
        log("--limit", "-1"),
        "--limit must be 0 (every decision) or more, got -1",
        2,
    ),
    "verify --examples 0": (None, ["verify", "desk.rota", "--examples", "0"], "--examples must be at least 1", 2),
    "verify --max-wait": (
        None,
        ["verify", "desk.rota", "--max-wait", "forever"],
        "--max-wait 'forever' is not a duration",
        2,
    ),
    "simulate --hours 0": (
        None,
        ["simulate", "desk.rota", "--snapshot", SNAPSHOT, "--report", "r.html", "--hours", "0"],
        "--hours must be above 0",
        2,
    ),
}


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A working folder with a good policy and event log."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "desk.rota").write_text(POLICY)
    (tmp_path / "events.jsonl").write_text(EVENTS)
    return tmp_path


@pytest.mark.parametrize("setup, argv, fragment, expected_code", CASES.values(), ids=CASES.keys())
def test_a_broken_input_is_one_plain_line_and_leaves_nothing_behind(
    folder, capsys, setup, argv, fragment, expected_code
):
    if setup is not None:
        setup(folder)
    capsys.readouterr()
    before = everything_in(folder)
    if argv is None:  # an event log case: the replay in memory, then into a new engine file
        argvs = [replay(events="bad.jsonl"), replay("--db", "engine.duckdb", events="bad.jsonl")]
    else:
        argvs = [argv]
    for arguments in argvs:
        code, out, err = run(capsys, arguments)
        assert_said_plainly(code, out, err, fragment, expected_code)
        if expected_code == 2:
            assert everything_in(folder) == before, "a command that stopped left files behind"


def test_an_event_log_not_in_utf8_is_one_plain_line(folder, capsys):
    (folder / "bad.jsonl").write_bytes(NOT_UTF8_EVENTS)
    code, out, err = run(capsys, replay(events="bad.jsonl"))
    assert_said_plainly(code, out, err, "bad.jsonl:1: not UTF-8", 2)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and writes any file")
@pytest.mark.parametrize("argv", [replay("--db", "engine.duckdb"), serve(), log()], ids=["replay", "serve", "log"])
def test_an_engine_file_without_permission(folder, capsys, argv):
    a_replay_of(POLICY)(folder)
    (folder / "engine.duckdb").chmod(0o400)
    code, out, err = run(capsys, argv)
    assert_said_plainly(code, out, err, "engine.duckdb: permission denied", 2)


# ------------------------------------------------------ a used engine file


def test_the_same_replay_resumes_and_reports_every_decision(folder, capsys):
    code, _, first = run(capsys, replay("--db", "engine.duckdb"))
    written_first = (folder / "out.jsonl").read_text()
    code_again, _, again = run(capsys, replay("--db", "engine.duckdb"))
    assert code == code_again == 0
    assert "resumed engine.duckdb: an earlier run had applied 93 of these events" in again
    assert "replayed 93 events into 69 decisions" in first and "replayed 93 events into 69 decisions" in again
    assert (folder / "out.jsonl").read_text() == written_first


def test_a_replay_of_another_policy_is_refused_and_changes_nothing(folder, capsys):
    """The bug: it printed "0 decisions", exited 0 and wrote the old policy's decisions."""
    (folder / "other.rota").write_text(OTHER_POLICY)
    run(capsys, replay("--db", "engine.duckdb"))
    before = (folder / "engine.duckdb").read_bytes()
    (folder / "out.jsonl").unlink()
    code, out, err = run(capsys, replay("--db", "engine.duckdb", policy="other.rota"))
    assert_said_plainly(code, out, err, "engine.duckdb: holds a replay of policy ", 2)
    assert "(desk.rota) from snapshot " in err and "after 93 events of events.jsonl" in err
    assert (
        "this run has policy " in err and "(other.rota): use a new --db file, or delete this one to start over" in err
    )
    assert not (folder / "out.jsonl").exists()
    assert (folder / "engine.duckdb").read_bytes() == before


@pytest.mark.parametrize(
    "change, fragment",
    [
        ("snapshot", "this run has snapshot "),
        ("fewer events", "this run has only 40 events from events.jsonl"),
        ("other events", "this run has events.jsonl, whose first 93 events differ"),
    ],
)
def test_a_replay_from_another_snapshot_or_log_is_refused(folder, capsys, change, fragment):
    run(capsys, replay("--db", "engine.duckdb"))
    snapshot = SNAPSHOT
    if change == "snapshot":
        shutil.copytree(SNAPSHOT, folder / "snapshot")
        users = (folder / "snapshot" / "users.csv").read_text().splitlines(keepends=True)
        (folder / "snapshot" / "users.csv").write_text("".join(users[:-1]))
        snapshot = str(folder / "snapshot")
    elif change == "fewer events":
        (folder / "events.jsonl").write_text("".join(EVENTS.splitlines(keepends=True)[:40]))
    else:
        (folder / "events.jsonl").write_text(EVENTS.replace('"u01"', '"u02"'))
    argv = replay("--db", "engine.duckdb")
    argv[argv.index(SNAPSHOT)] = snapshot
    code, out, err = run(capsys, argv)
    assert_said_plainly(code, out, err, fragment, 2)


def test_a_replay_resumes_a_longer_log_and_a_reformatted_policy(folder, capsys):
    """The same run: events appended to the log, the policy reformatted (its meaning unchanged)."""
    (folder / "events.jsonl").write_text("".join(EVENTS.splitlines(keepends=True)[:50]))
    run(capsys, replay("--db", "engine.duckdb"))
    (folder / "events.jsonl").write_text(EVENTS)
    (folder / "desk.rota").write_text("# reformatted\n" + POLICY)
    code, _, err = run(capsys, replay("--db", "engine.duckdb"))
    assert code == 0 and "an earlier run had applied 50 of these events" in err
    run(capsys, replay("--out", "whole.jsonl"))
    assert (folder / "out.jsonl").read_text() == (folder / "whole.jsonl").read_text()


def test_a_file_from_before_fingerprints_resumes_under_its_own_policy_only(folder, capsys):
    events = load_events(read_events(folder / "events.jsonl"), "events.jsonl")
    durable = DurableEngine.open(folder / "engine.duckdb", POLICY, load_roster(load_snapshot(SNAPSHOT).connection))
    for event in events[:30]:
        durable.handle(event)
    durable.close()
    (folder / "other.rota").write_text(OTHER_POLICY)
    code, _, err = run(capsys, replay("--db", "engine.duckdb", policy="other.rota"))
    assert code == 2 and "engine.duckdb: holds an engine of policy " in err and "with 0 decisions" not in err
    code, _, err = run(capsys, replay("--db", "engine.duckdb"))
    assert code == 0 and "applied 30 of these events" in err
    code, _, err = run(capsys, replay("--db", "engine.duckdb", policy="other.rota"))
    assert code == 2 and "holds a replay of policy" in err  # adopted: it now has a fingerprint


def test_serve_restarts_on_its_own_file_with_its_snapshot_and_refuses_another(folder):
    """The same command line restarts the service, under a new policy version if need be;
    --snapshot must be the one the file started from."""
    path = folder / "engine.duckdb"
    roster = load_roster(load_snapshot(SNAPSHOT).connection)
    DurableEngine.open(path, POLICY, roster, "desk.rota", run=Run.serve("desk.rota", roster)).close()
    same = load_roster(load_snapshot(SNAPSHOT).connection)
    DurableEngine.open(path, OTHER_POLICY, same, "other.rota", run=Run.serve("other.rota", same)).close()
    fewer = Roster.build([User(user.id, status=user.status) for user in list(same.users.values())[:3]])
    with pytest.raises(RunMismatch, match="engine.duckdb: already holds 30 users, from another snapshot"):
        DurableEngine.open(path, POLICY, fewer, run=Run.serve("desk.rota", fewer))
    reopened = DurableEngine.open(path, run=Run.serve("other.rota", None))
    assert len(reopened.engine.roster.users) == 30 and reopened.policy_text == OTHER_POLICY
    reopened.close()


DEMO_EVENTS = load_events(read_events(DEMO / "events.jsonl"), "events.jsonl")


@given(st.lists(st.integers(0, len(DEMO_EVENTS)), max_size=6))
@settings(max_examples=50, deadline=None)
def test_the_events_digest_does_not_depend_on_how_the_prefix_was_cut(cuts):
    """Commits take the digest at different counts in a first run and in a resumed one."""
    whole = EventLog("events.jsonl", DEMO_EVENTS).digest(len(DEMO_EVENTS))
    pieces = EventLog("events.jsonl", DEMO_EVENTS)
    for count in sorted(cuts):
        pieces.digest(count)
    assert pieces.digest(len(DEMO_EVENTS)) == whole
    assert EventLog("events.jsonl", DEMO_EVENTS).digest(len(DEMO_EVENTS) - 1) != whole


# -------------------------------------------- another process holds the file or the port


@pytest.fixture(scope="module")
def running_service(tmp_path_factory):
    """A real `rota serve`: it holds its engine file and its port."""
    directory = tmp_path_factory.mktemp("service")
    (directory / "desk.rota").write_text(POLICY)
    port = free_port()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "rota"),
            "serve",
            "--db",
            str(directory / "engine.duckdb"),
            "--policy",
            str(directory / "desk.rota"),
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    announced = process.stderr.readline()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    assert "rota serving" in announced, announced
    yield directory / "engine.duckdb", port
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=20)


@pytest.mark.parametrize(
    "command",
    [
        lambda db, port: log(db=db),
        lambda db, port: replay("--db", db),
        lambda db, port: serve(db=db),
    ],
    ids=["log", "replay", "serve"],
)
def test_an_engine_file_held_by_a_running_service(folder, capsys, running_service, command):
    database, port = running_service
    before = everything_in(folder)
    code, out, err = run(capsys, command(str(database), port))
    assert_said_plainly(code, out, err, f"{database}: in use by another process (PID ", 2)
    assert "such as a running rota serve; stop it first, or use another file" in err
    assert everything_in(folder) == before


def test_serve_on_a_busy_port_says_so_and_leaves_no_engine_file_or_token(folder, capsys, running_service):
    _, port = running_service
    code, out, err = run(capsys, ["serve", "--db", "new.duckdb", "--policy", "desk.rota", "--port", str(port)])
    assert_said_plainly(code, out, err, f"port {port} on 127.0.0.1 is in use; stop the other program or pass --port", 2)
    assert "serving" not in err
    assert not (folder / "new.duckdb").exists() and not (folder / "new.duckdb.token").exists()


def test_the_console_script_never_exits_3_on_a_busy_port(folder, running_service):
    _, port = running_service
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "rota"),
            "serve",
            "--db",
            "new.duckdb",
            "--policy",
            "desk.rota",
            "--port",
            str(port),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "is in use" in result.stderr
    assert sorted(os.listdir(folder)) == ["desk.rota", "events.jsonl"]


def test_a_service_that_does_not_start_removes_the_files_it_made(folder, capsys, monkeypatch):
    import uvicorn

    def startup_fails(server, sockets=None):
        raise SystemExit(3)  # what uvicorn does when the application's start-up fails

    monkeypatch.setattr(uvicorn.Server, "run", startup_fails)
    code, out, err = run(capsys, serve())
    assert (
        code == 2
        and err.splitlines()[-1] == "rota: error: engine.duckdb: the service did not start; see the lines above"
    )
    assert sorted(os.listdir(folder)) == ["desk.rota", "events.jsonl"]


def test_serve_on_port_0_announces_the_port_it_bound(folder, capsys, monkeypatch):
    import uvicorn

    monkeypatch.setattr(uvicorn.Server, "run", lambda server, sockets=None: None)
    code, _, err = run(capsys, ["serve", "--db", "engine.duckdb", "--policy", "desk.rota", "--port", "0"])
    port = int(err.split("http://127.0.0.1:")[1].split(" ")[0])
    assert code == 0 and 0 < port < 65536
