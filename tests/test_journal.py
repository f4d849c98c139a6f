"""The store's write-ahead journal: commits appended to the journal file as pickled bodies, read back
safely, whole or not at all after a crash; bodies left in the tables by files written before that
still folded in."""

import json
import os
import pickle
from dataclasses import astuple
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_spec_4_1_reassign import DESK, T0, reply, route, status

from rota.engine import Decision, DurableEngine
from rota.engine.releases import NO_TIMERS, timers_of_row
from rota.storage import EngineStore
from rota.storage.engine_store import _RELEASE_TYPES, CONTACT_COLUMNS, SMALL_BATCH, Changes, _pickled, _unpickled
from rota.storage.journal_file import JournalFile, journal_path
from rota.storage.legacy_releases import LEGACY_SCHEMA
from rota.testing import Snapshot, UserRecord
from rota.vocabulary import Outcome, Reason

AT = datetime(2026, 11, 25, 9, 30)
DECISION = (0, AT, "c1", "general", "queued", None, None, datetime(2026, 11, 25, 10), "v1", 0)


def test_a_commit_not_yet_folded_is_read_back_from_the_journal(tmp_path):
    store = EngineStore(tmp_path / "engine.duckdb")
    store.commit(Changes(decisions=[DECISION], meta={"events_applied": "1"}))
    crash(store)
    tables = duckdb.connect(str(tmp_path / "engine.duckdb"))
    assert tables.execute("SELECT count(*) FROM decisions").fetchall() == [(0,)]  # only in the journal file
    tables.close()
    reopened = EngineStore(tmp_path / "engine.duckdb")
    assert reopened.meta()["events_applied"] == "1"
    assert [tuple(row.values())[:8] for row in reopened.decisions()] == [DECISION[:8]]
    reopened.close()


def test_a_json_journal_from_an_older_file_is_folded_on_opening(tmp_path):
    store = EngineStore(tmp_path / "engine.duckdb")
    body = {name: [] for name in ("users", "contacts", "queued", "unqueued", "decisions", "policies")}
    body.update(memberships={}, cursors={"*": "u1"}, meta={"events_applied": "7"}, decisions=[DECISION])
    store.connection.execute("INSERT INTO journal VALUES (?)", [json.dumps(body, default=lambda v: v.isoformat())])
    store.connection.close()
    reopened = EngineStore(tmp_path / "engine.duckdb")
    assert reopened.meta()["events_applied"] == "7"
    assert reopened.rows("rotation", "pool") == [("*", "u1")]
    assert [row["deadline"] for row in reopened.decisions()] == [DECISION[7]]
    reopened.close()


class Intruder:
    pass


def test_a_journal_body_naming_any_class_but_times_is_refused():
    with pytest.raises(pickle.UnpicklingError):
        _unpickled(pickle.dumps({"meta": Intruder()}))


def crash(store: EngineStore) -> None:
    """The process dies: nothing is folded, the files stay as they are."""
    store.connection.close()
    if store._journal is not None:
        store._journal.close()


def decision(seq: int) -> tuple:
    return (seq, AT, f"c{seq}", "general", "queued", None, None, datetime(2026, 11, 25, 10), "v1", 0)


def logged(path) -> list[int]:
    store = EngineStore(path)
    seqs = [row["seq"] for row in store.decisions()]
    store.close()
    return seqs


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(commits=st.integers(1, 6), fold_after=st.integers(0, 6), cut=st.floats(0, 1))
def test_a_crash_keeps_exactly_the_commits_whose_records_are_whole(tmp_path_factory, commits, fold_after, cut):
    """A kill at any byte of the journal: the reopened file holds the commits written wholly before it, each
    once, also after a fold whose journal was not yet emptied; and commits go on cleanly after the cut."""
    path = tmp_path_factory.mktemp("journal") / "engine.duckdb"
    store = EngineStore(path)
    ends, folded = [], 0
    opened = journal_path(path).stat().st_size  # its header
    for seq in range(commits):
        store.commit(Changes(decisions=[decision(seq)]))
        ends.append(journal_path(path).stat().st_size)
        if seq + 1 == fold_after:  # folded, then killed before the journal was emptied
            store._journal.empty = lambda: None
            store.checkpoint()
            folded = seq + 1
    crash(store)
    start = ends[folded - 1] if folded else opened
    size = int(start + (ends[-1] - start) * cut)
    os.truncate(journal_path(path), size)
    whole = folded + sum(1 for end in ends[folded:] if end <= size)
    assert logged(path) == list(range(whole))
    store = EngineStore(path)
    store.commit(Changes(decisions=[decision(whole)]))
    crash(store)
    assert logged(path) == list(range(whole + 1))


def test_a_journal_left_by_another_file_of_the_same_name_is_not_read(tmp_path):
    path = tmp_path / "engine.duckdb"
    store = EngineStore(path)
    store.commit(Changes(decisions=[decision(0)]))
    crash(store)
    path.unlink()
    Path(f"{path}.wal").unlink(missing_ok=True)
    assert logged(path) == []


def test_a_commit_that_could_not_be_made_durable_is_not_in_the_file(tmp_path, monkeypatch):
    path = tmp_path / "engine.duckdb"
    store = EngineStore(path)
    store.commit(Changes(decisions=[decision(0)]))

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fdatasync", disk_full)
    with pytest.raises(OSError):
        store.commit(Changes(decisions=[decision(1)]))
    monkeypatch.undo()
    crash(store)  # the written but not durable record was taken back
    assert logged(path) == [0]


def test_a_binary_journal_row_from_an_older_file_is_folded_on_opening(tmp_path):
    store = EngineStore(tmp_path / "engine.duckdb")
    store.connection.execute("INSERT INTO binary_journal VALUES (?)", [_pickled(Changes(decisions=[decision(0)]))])
    crash(store)
    assert logged(tmp_path / "engine.duckdb") == [0]


def test_a_file_of_rota_0_1_0_gets_the_release_columns_and_its_journaled_contacts_nothing_in_them(tmp_path):
    """0.1.0's contacts table and journal rows have no released users nor timers (SPEC 4.1 came after)."""
    path = tmp_path / "engine.duckdb"
    old = duckdb.connect(str(path))
    old.execute(
        "CREATE TABLE contacts (id VARCHAR PRIMARY KEY, assignee VARCHAR, closed BOOLEAN NOT NULL, attributes JSON)"
    )
    old.execute("INSERT INTO contacts VALUES ('c1', 'u1', false, '{}')")
    old.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    old.execute("CREATE TABLE binary_journal (body BLOB NOT NULL)")
    old.execute("INSERT INTO binary_journal VALUES (?)", [_pickled(Changes(contacts=[("c2", "u2", False, "{}")]))])
    old.close()
    store = EngineStore(path)
    rows = store.rows("contacts", "id")
    store.close()
    assert [row[:4] for row in rows] == [("c1", "u1", False, "{}"), ("c2", "u2", False, "{}")]
    assert all(value is None for row in rows for value in row[4:]) and len(rows[0]) == len(CONTACT_COLUMNS)


# A value of each SPEC 4.1 column's type, from a number (so that rows differ).
_RELEASE_VALUES = {"VARCHAR[]": lambda n: [f"u{n}"], "VARCHAR": lambda n: f"r{n}", "BIGINT": lambda n: n}


def contact_row(contact: str, n: int, full: bool) -> tuple:
    """A contact's row: with SPEC 4.1 state in every column (`full`), or the short row of one without."""
    short = (contact, f"u{n}", n % 2 == 0, "{}")
    return short + tuple(_RELEASE_VALUES.get(kind, lambda n: AT)(n) for kind in _RELEASE_TYPES.values()) * full


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    commits=st.lists(st.lists(st.tuples(st.integers(0, 5), st.booleans()), max_size=6), min_size=1, max_size=4),
    fillers=st.integers(0, 2 * SMALL_BATCH),
    fold_after=st.integers(0, 3),
)
@example(commits=[[(0, True)], [(0, False)]], fillers=SMALL_BATCH, fold_after=0)  # state gone, in a batch
def test_folded_contacts_are_the_last_row_of_each_padded_with_nulls(tmp_path_factory, commits, fillers, fold_after):
    """Short and full rows, mixed in one fold (as plain statements or as a batch, by how many), and a contact
    whose state went away in a later commit: the table holds each contact's last row, NULL past a short one."""
    path = tmp_path_factory.mktemp("fold") / "engine.duckdb"
    store = EngineStore(path)
    expected: dict[str, tuple] = {}
    rows_of_commits = [
        [contact_row(f"c{contact}", index, full) for index, (contact, full) in enumerate(commit)]
        + [contact_row(f"f{n}", number + n, False) for n in range(fillers)]  # enough, or not, for a batch
        for number, commit in enumerate(commits)
    ]
    for number, rows in enumerate(rows_of_commits):
        store.commit(Changes(contacts=rows, meta={"events_applied": str(number)}))
        expected.update((row[0], row + (None,) * (len(CONTACT_COLUMNS) - len(row))) for row in rows)
        if number == fold_after:
            store.checkpoint()
    assert store.rows("contacts", "id") == sorted(expected.values())
    store.close()


def test_a_commit_that_repeats_the_last_ones_counters_writes_no_record(tmp_path):
    """An idle service's timer ticks commit nothing new: the journal stays as it was, and a change after them
    (or counters that moved) is written as before."""
    store = EngineStore(tmp_path / "engine.duckdb")
    settings = {"meta": {"events_applied": "1"}, "cursors": {"*": "u1"}}
    store.commit(Changes(decisions=[DECISION], **settings))
    size = journal_path(tmp_path / "engine.duckdb").stat().st_size
    for _ in range(3):
        store.commit(Changes(**settings))
    assert journal_path(tmp_path / "engine.duckdb").stat().st_size == size
    store.commit(Changes(meta={"events_applied": "2"}, cursors={"*": "u1"}))
    store.commit(Changes(decisions=[(1, *DECISION[1:])], meta={"events_applied": "2"}, cursors={"*": "u1"}))
    grown = journal_path(tmp_path / "engine.duckdb").stat().st_size
    assert grown > size
    store.connection.close()  # a crash: the journal holds it all
    reopened = EngineStore(tmp_path / "engine.duckdb")
    assert reopened.meta()["events_applied"] == "2"
    assert [row["seq"] for row in reopened.decisions()] == [0, 1]
    reopened.close()


# ---- Files of the build that kept release timers and released users in tables of their own (main a4e650d).
# Folded: c1 released from u1 at 5 (u2 away: queued), c3 held by away u2 (its timer due at 14), c4 assigned
# to u1. Journaled: u1's reply to c4. Then: c3 released at 14 (to u1), u2 back online at 16 takes c1 (u1 may not).
FOLDED = [
    route(0, "c1"),
    route(1, "c2"),
    reply(2, "c2", "u2"),
    route(3, "c3", last_agent="u2"),
    status(4, "u2", "away"),
]
FOLDED.append(route(6, "c4"))
JOURNALED = [reply(7, "c4", "u1")]
AFTER = [status(16, "u2", "online")]


def desk_file(path: Path) -> None:
    """The folded events in the tables, the journaled ones in the journal only (a process killed then)."""
    users = (UserRecord("u1", "online"), UserRecord("u2", "online"))
    roster = Snapshot(users, (("Desk", "u1"), ("Desk", "u2"))).roster()
    durable = DurableEngine.open(path, DESK, roster, now=T0)
    for events in (FOLDED, JOURNALED):
        for item in events:
            durable.handle(item)
        durable.commit()
        if events is FOLDED:
            durable.store.checkpoint()
    crash(durable.store)


def as_the_release_tables_build_wrote_it(path: Path) -> None:
    """Rewrite `desk_file`'s file as a4e650d keeps the same state: contacts of four columns, their timers and
    released users in `release_timers` / `released_users`, journal records with `timers` and `released`."""
    tables = duckdb.connect(str(path))
    rows = tables.execute("SELECT * FROM contacts").fetchall()
    tables.execute(LEGACY_SCHEMA)
    for contact, assignee, _, _, released, *timer_row in rows:
        for user in released or ():
            tables.execute("INSERT INTO released_users VALUES (?, ?)", [contact, user])
        for timer in timers_of_row(contact, assignee, tuple(timer_row)):
            tables.execute("INSERT INTO release_timers VALUES (?, ?, ?, ?, ?, ?, ?, ?)", list(astuple(timer)))
    tables.execute("CREATE TEMP TABLE kept AS SELECT id, assignee, closed, attributes FROM contacts")
    tables.execute("DROP TABLE contacts")
    tables.execute(
        "CREATE TABLE contacts (id VARCHAR PRIMARY KEY, assignee VARCHAR, closed BOOLEAN NOT NULL, attributes JSON)"
    )
    tables.execute("INSERT INTO contacts SELECT * FROM kept")
    file_id, folded_through = tables.execute("SELECT id, folded_through FROM journal_file").fetchall()[0]
    tables.close()
    journal = JournalFile(journal_path(path), file_id, folded_through)
    records, journal.records = journal.records, []
    journal.empty()
    journal.last_number = folded_through
    for body in records:
        record = pickle.loads(body)
        record["timers"], record["released"] = {}, {}
        contacts = []
        for row in record["contacts"]:
            contact, assignee = row[0], row[1]
            released, timer_row = (row[4], row[5:]) if len(row) > 4 else (None, NO_TIMERS)
            record["released"][contact] = sorted(released or ())
            record["timers"][contact] = [astuple(timer) for timer in timers_of_row(contact, assignee, timer_row)]
            contacts.append(row[:4])
        record["contacts"] = contacts
        journal.append(pickle.dumps(record))
    journal.close()


def state_and_rest(path: Path) -> tuple[dict, dict, list[Decision]]:
    """The timers and released users an opened file holds, and the decisions of the events after."""
    durable = DurableEngine.open(path, now=T0)
    timers = {
        contact: {trigger: astuple(timer) for trigger, timer in by_trigger.items()}
        for contact, by_trigger in durable.engine.releases.timers.items()
    }
    released = {contact: state.contact.released for contact, state in durable.engine.contacts.items()}
    rest = [decision for item in AFTER for decision in durable.handle(item)]
    durable.close()
    return timers, released, rest


def test_a_file_of_the_build_with_release_tables_keeps_its_timers_and_released_users(tmp_path):
    """Its tables move into the contacts' columns (and are dropped), its journal record's timers and released
    users with them: the engine has what that build had, and goes on as it would."""
    desk_file(tmp_path / "now.duckdb")
    desk_file(tmp_path / "before.duckdb")
    as_the_release_tables_build_wrote_it(tmp_path / "before.duckdb")
    expected, migrated = state_and_rest(tmp_path / "now.duckdb"), state_and_rest(tmp_path / "before.duckdb")
    assert migrated == expected
    timers, released, rest = migrated
    assert set(timers) == {"c3"} and released["c1"] == {"u1"}  # c4's timer gone with u1's journaled reply
    assert [(d.contact, d.outcome, d.user, d.reason) for d in rest] == [
        ("c3", Outcome.RELEASED.value, "u2", Reason.AWAY.value),  # due at 14, fired by the next event
        ("c3", Outcome.ASSIGNED.value, "u1", Reason.ROUND_ROBIN.value),
        ("c1", Outcome.ASSIGNED.value, "u2", Reason.ROUND_ROBIN.value),  # not u1, who released it
    ]
    tables = duckdb.connect(str(tmp_path / "before.duckdb"))
    left = {row[0] for row in tables.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    tables.close()
    assert not left & {"release_timers", "released_users"}
