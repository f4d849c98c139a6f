"""Issue: durability. A replay into an engine file is SIGKILLed at random moments;
every reopening must hold the invariants and every decision reported before the
kill, and running on to the end must give what an uninterrupted run gives. The
policy's routes have `reassign` options and the log has replies (SPEC 4.1), so
a kill that lost a release timer, or fired one twice, would show in the rows."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from rota.storage import EngineStore

POLICY = """\
route vip when "vip" in contact.tags {
  assign to team "VIP"
  using least_open
  only online
  only open < 2
  priority 10
  timeout 5m -> general
  reassign when unanswered 3m -> general
}

route general {
  assign to space
  only online
  only open < 3
  timeout 20m -> unassign
  reassign when unanswered 10m
  reassign when away 2m
}
"""
KILLS = 6


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    directory = tmp_path_factory.mktemp("durability")
    snapshot = directory / "snapshot"
    snapshot.mkdir()
    users = [f"u{index:02d}" for index in range(30)]
    (snapshot / "users.csv").write_text("id,status\n" + "".join(f"{u},offline\n" for u in users))
    (snapshot / "memberships.csv").write_text("team,user_id\n" + "".join(f"VIP,{u}\n" for u in users[:5]))
    (directory / "policy.rota").write_text(POLICY)
    random_source = random.Random(42)
    lines, open_contacts, second = [], [], 0
    for index in range(12_000):
        second += random_source.randint(1, 20)
        stamp = (datetime(2026, 11, 25, 8) + timedelta(seconds=second)).isoformat() + "Z"
        roll = random_source.random()
        if roll < 0.5 or not open_contacts:
            open_contacts.append(f"c{index}")
            tags = ["vip"] if random_source.random() < 0.2 else []
            lines.append({"at": stamp, "type": "route", "contact": f"c{index}", "attrs": {"tags": tags}})
        elif roll < 0.62:  # by one of a few users: now and then the assignee, whose reply counts
            contact = random_source.choice(open_contacts)
            lines.append({"at": stamp, "type": "reply", "contact": contact, "user": random_source.choice(users[:6])})
        elif roll < 0.8:
            lines.append(
                {
                    "at": stamp,
                    "type": "close",
                    "contact": open_contacts.pop(random_source.randrange(len(open_contacts))),
                }
            )
        else:
            lines.append(
                {
                    "at": stamp,
                    "type": "status",
                    "user": random_source.choice(users),
                    "status": random_source.choice(["online", "online", "offline"]),
                }
            )
    (directory / "events.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return directory


def replay_command(world, database, out):
    return [
        str(Path(sys.executable).parent / "rota"),
        "replay",
        str(world / "policy.rota"),
        "--snapshot",
        str(world / "snapshot"),
        "--events",
        str(world / "events.jsonl"),
        "--out",
        str(out),
        "--db",
        str(database),
    ]


def check_invariants(database):
    EngineStore(database).close()  # reopening folds the write-ahead journal into the tables
    connection = duckdb.connect(str(database), read_only=True)
    try:
        held = dict(
            connection.execute(
                "SELECT assignee, count(*) FROM contacts WHERE NOT closed AND assignee IS NOT NULL GROUP BY assignee"
            ).fetchall()
        )
        counts = dict(connection.execute("SELECT id, open_contacts FROM users").fetchall())
        assert all(counts[user] == held.get(user, 0) for user in counts), "open counts differ from contacts held"
        for query, broken in (
            ("FROM queue q JOIN contacts c ON c.id = q.contact WHERE c.closed", "a closed contact is still queued"),
            (
                "FROM contacts WHERE timer_route IS NOT NULL "
                "AND (closed OR assignee IS NULL OR id IN (SELECT contact FROM queue))",
                "a release timer watches a contact its assignee no longer holds",
            ),
            (
                "FROM contacts WHERE len(released) > 0 AND (closed OR list_contains(released, assignee))",
                "a contact is held by a user it was released from, or closed with released users",
            ),
            (
                "FROM queue WHERE deadline > enqueued_at + INTERVAL 7 DAY OR deadline <= enqueued_at",
                "a deadline is not within 7 days of its enqueueing",
            ),
        ):
            assert connection.execute(f"SELECT count(*) {query}").fetchall()[0][0] == 0, broken
        return [
            row[0]
            for row in connection.execute(
                "SELECT json_object('contact', contact, 'outcome', outcome, 'user', \"user\") FROM decisions ORDER BY seq"
            ).fetchall()
        ]
    finally:
        connection.close()


def reported(out):
    """Complete lines written before the kill (a torn last line was never reported)."""
    text = out.read_text() if out.exists() else ""
    return [json.loads(line) for line in text.split("\n")[:-1]]


def test_killed_replays_recover_and_finish_like_an_uninterrupted_one(world, tmp_path):
    whole = tmp_path / "whole.jsonl"
    started = time.perf_counter()
    subprocess.run(replay_command(world, tmp_path / "whole.duckdb", whole), check=True, capture_output=True)
    duration = time.perf_counter() - started  # kills land between 30% and 90% of a whole run
    random_source = random.Random(7)
    interrupted = attempts = 0
    while interrupted < KILLS and attempts < 3 * KILLS:
        database, out = tmp_path / f"killed-{attempts}.duckdb", tmp_path / f"killed-{attempts}.jsonl"
        attempts += 1
        process = subprocess.Popen(
            replay_command(world, database, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(random_source.uniform(0.3, 0.9) * duration)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            interrupted += 1
        else:  # this run was quicker than the timed one (a busy machine): aim earlier next time
            duration *= 0.7
        process.wait()
        if database.exists():
            logged = [json.loads(row) for row in check_invariants(database)]
            said = [{key: row[key] for key in ("contact", "outcome", "user")} for row in reported(out)]
            assert logged[: len(said)] == said, "a reported decision is missing from the engine file"
        subprocess.run(replay_command(world, database, out), check=True, capture_output=True)
        check_invariants(database)
        assert out.read_text() == whole.read_text(), "the resumed run differs from an uninterrupted one"
    outcomes = {json.loads(line)["outcome"] for line in whole.read_text().splitlines()}
    assert "released" in outcomes, "the log gave no release to lose or repeat"
    print(f"{interrupted} kills, {attempts} reopenings verified and resumed to the end")
    assert interrupted == KILLS, "the kills came too late to test anything"


def test_a_new_engine_file_gets_all_its_tables_or_none(tmp_path, monkeypatch):
    """A kill while the tables are being made must not leave a file that is refused as not rota's."""
    from rota.storage import engine_store

    path = tmp_path / "engine.duckdb"
    monkeypatch.setattr(engine_store, "SCHEMA", engine_store.SCHEMA + "CREATE TABLE users (id VARCHAR);")
    with pytest.raises(duckdb.Error):  # the last statement fails, as a kill there would stop it
        engine_store.EngineStore(path)
    monkeypatch.undo()
    with duckdb.connect(str(path)) as connection:
        assert connection.execute("SELECT count(*) FROM information_schema.tables").fetchall() == [(0,)]
    engine_store.EngineStore(path).close()  # the same command then makes the file afresh
