"""Issue 8: one truth. The same contacts give the same answer in `rota batch` and in `rota replay`,
whatever kinds their attribute columns mix, whichever optional columns the files leave out.

The property routes each contact twice: in one batch over a JSON lines file (and over a CSV file
when CSV can carry the values), and alone, as one `route` event on a fresh engine from the same
snapshot. Batch decisions differ from one-by-one ones only through what contacts share (round-robin
cursors, open counts), so the generated policies route to teams of one member with filters that
read no count: each contact's decision depends on its own fields only.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from rota.diagnostics import DATA_MIXED_KINDS
from rota.dsl import analyze
from rota.engine import Engine, compile_policy, load_roster, run_batch, snapshot_schema
from rota.engine.scheduler import event_from_record
from rota.jobs import batch_file
from rota.storage import StorageError, load_snapshot, read_contacts
from rota.testing import Snapshot

NOW = "2026-11-25T10:00:00Z"
DECISION_FIELDS = ("route", "outcome", "user", "reason")


def write_snapshot(directory: Path, users_csv: str, memberships_csv: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "users.csv").write_text(users_csv)
    (directory / "memberships.csv").write_text(memberships_csv)
    return directory


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def batch_rows(policy: str, snapshot: Path, contacts: Path, tmp: Path) -> dict[str, tuple]:
    (tmp / "policy.rota").write_text(policy)
    out = tmp / "out.jsonl"
    batch_file(tmp / "policy.rota", snapshot, contacts, out, datetime(2026, 11, 25, 10))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    return {row["contact"]: tuple(row[name] for name in DECISION_FIELDS) for row in rows}


def replayed_alone(policy: str, snapshot: Path | Snapshot, record: dict) -> tuple:
    """The contact as one `route` event (its attrs as a replay log carries them) on a fresh engine."""
    compiled = compile_policy(analyze(policy, "policy.rota")[0])
    users = snapshot if isinstance(snapshot, Snapshot) else Snapshot.from_directory(snapshot)
    engine = Engine(compiled, users.roster())
    attrs = {name: value for name, value in record.items() if name != "id"}
    event = event_from_record({"at": NOW, "type": "route", "contact": record["id"], "attrs": attrs})
    decision = engine.handle(event)[0]
    return tuple(getattr(decision, name) for name in DECISION_FIELDS)


# ------------------------------------------------------ the bugs users found


ONE_DESK = ("id,status\nu1,online\nu2,online\n", "team,user_id\nvip,u1\ngeneral,u2\n")


def test_a_column_mixing_numbers_and_text_gives_batch_and_replay_one_answer(tmp_path):
    snapshot = write_snapshot(tmp_path / "snapshot", *ONE_DESK)
    policy = 'route first_tier when contact.tier == 1 {\n  assign to team "vip"\n}\n'
    records = [{"id": "c1", "tier": 1}, {"id": "c2", "tier": "gold"}]
    batch = batch_rows(policy, snapshot, write_jsonl(tmp_path / "contacts.jsonl", records), tmp_path)
    assert batch["c1"] == ("first_tier", "assigned", "u1", "round_robin")
    assert batch["c2"] == (None, "no_route", None, None)
    assert [replayed_alone(policy, snapshot, record) for record in records] == [batch["c1"], batch["c2"]]


def test_lists_duckdb_writes_in_csv_are_lists(tmp_path):
    snapshot = write_snapshot(tmp_path / "snapshot", *ONE_DESK)
    policy = (
        'route vip when "vip" in contact.tags {\n  assign to team "vip"\n}\n\n'
        'route general {\n  assign to team "general"\n}\n'
    )
    contacts = tmp_path / "contacts.csv"
    contacts.write_text('id,tags\nc1,"[vip, spam]"\nc2,[]\nc3,"[""vip""]"\n')
    batch = batch_rows(policy, snapshot, contacts, tmp_path)
    assert [batch[contact][:3] for contact in ("c1", "c2", "c3")] == [
        ("vip", "assigned", "u1"),
        ("general", "assigned", "u2"),
        ("vip", "assigned", "u1"),
    ]


def test_a_filter_on_the_assignee_runs_when_the_contacts_file_has_no_assignee_column(tmp_path):
    snapshot = write_snapshot(tmp_path / "snapshot", *ONE_DESK)
    policy = 'route general {\n  assign to team "general"\n  only id != contact.assignee\n}\n'
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("id,tier\nc1,2\n")
    batch = batch_rows(policy, snapshot, contacts, tmp_path)
    # No assignee is null, so `id != null` is null and nobody passes: queued, as replay says.
    assert batch["c1"] == ("general", "queued", None, None)
    assert replayed_alone(policy, snapshot, {"id": "c1", "tier": 2}) == batch["c1"]


def test_a_route_event_assignee_is_a_user_id_as_in_the_batch(tmp_path):
    snapshot = write_snapshot(tmp_path / "snapshot", "id,status\n7,online\nu2,online\n", "team,user_id\ndesk,7\n")
    policy = 'route sticky {\n  assign to team "desk"\n  only id == contact.assignee\n}\n'
    records = [{"id": "c1", "assignee": 7}]
    batch = batch_rows(policy, snapshot, write_jsonl(tmp_path / "contacts.jsonl", records), tmp_path)
    assert batch["c1"] == ("sticky", "assigned", "7", "round_robin")
    assert replayed_alone(policy, snapshot, records[0]) == batch["c1"]


# ----------------------------------------------------------------- property

USERS = ("u1", "u2", "u3")
ATTRIBUTES = ("a", "b", "tags")
TEXTS = ("gold", "vip", "1", "u1", "true", "")
SCALARS = st.one_of(
    st.sampled_from((0, 1, 2, -3)),
    st.sampled_from((1.5, 2.0, -0.25)),
    st.sampled_from(TEXTS),
    st.booleans(),
)
VALUES = st.one_of(SCALARS, st.none(), st.lists(st.sampled_from(("vip", "x", "1")), max_size=3))
LITERALS = ("1", "2.0", "1.5", '"gold"', '"1"', '"vip"', "true", "false", '"u1"')
LIST_LITERALS = ('["vip", "x"]', "[1, 2]", '["gold", "1"]')


@st.composite
def contacts(draw) -> list[dict]:
    """Contacts whose attribute columns mix kinds, hold nulls, or are missing in some rows or all."""
    present = draw(st.lists(st.sampled_from(ATTRIBUTES), unique=True))
    records = []
    for number in range(draw(st.integers(1, 6))):
        record = {"id": f"c{number}"}
        for name in present:
            if draw(st.integers(0, 4)):  # now and then the key is left out of a row
                record[name] = draw(VALUES)
        if draw(st.booleans()):
            record["assignee"] = draw(st.sampled_from(USERS + (None,)))
        records.append(record)
    return records


@st.composite
def conditions(draw, scope: str = "contact") -> str:
    field = f"contact.{draw(st.sampled_from(ATTRIBUTES))}"
    shape = draw(st.integers(0, 6))
    if shape == 0:
        return f"{field} {draw(st.sampled_from(('==', '!=', '<', '>=')))} {draw(st.sampled_from(LITERALS))}"
    if shape == 1:
        return f"{draw(st.sampled_from(LITERALS))} in {field}"
    if shape == 2:
        return f"{field} in {draw(st.sampled_from(LIST_LITERALS))}"
    if shape == 3:
        return f"{field} {draw(st.sampled_from(('==', '!=')))} null"
    if shape == 4:
        return f"not ({draw(conditions(scope))})"
    if shape == 5 and scope == "user":
        return draw(st.sampled_from((f"level == {field}", f"{field} in skills", "id != contact.assignee")))
    return f"({draw(conditions(scope))}) {draw(st.sampled_from(('and', 'or')))} ({draw(conditions(scope))})"


@st.composite
def policies(draw) -> str:
    routes = []
    for number in range(draw(st.integers(1, 3))):
        when = f" when {draw(conditions())}" if draw(st.integers(0, 3)) else ""
        kind = draw(st.integers(0, 3))
        if kind <= 1:  # a team of one: the decision depends on the contact alone
            body = f'  assign to team "t{draw(st.integers(1, 3))}"\n'
            body += "".join(f"  only {draw(conditions('user'))}\n" for _ in range(draw(st.integers(0, 2))))
        elif kind == 2:
            body = f"  assign to user contact.{draw(st.sampled_from(ATTRIBUTES + ('assignee',)))}\n"
        else:
            body = "  unassign\n"
        routes.append(f"route r{number}{when} {{\n{body}}}\n")
    return "\n".join(routes)


@st.composite
def snapshots(draw) -> tuple[str, str]:
    """Three users, one team each; the optional columns present or not; user columns of mixed kinds."""
    optional = draw(st.lists(st.sampled_from(("name", "deleted", "open_contacts", "last_assigned_at")), unique=True))
    header = ["id", "status", *optional, "level", "skills"]
    users = []
    for user in USERS:
        row = {"id": user, "status": draw(st.sampled_from(("online", "online", "away"))), "name": user.upper()}
        row.update(deleted=draw(st.booleans()), open_contacts=draw(st.integers(0, 3)), last_assigned_at=NOW)
        row.update(level=draw(SCALARS), skills=draw(st.lists(st.sampled_from(("vip", "gold", "1")), max_size=2)))
        users.append({name: row[name] for name in header})
    memberships = "team,user_id\n" + "".join(f"t{number},{user}\n" for number, user in enumerate(USERS, 1))
    return "".join(json.dumps(user) + "\n" for user in users), memberships


def csv_of(records: list[dict], path: Path) -> Path:
    names = list(dict.fromkeys(name for record in records for name in record))
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(names)
        for record in records:
            writer.writerow([csv_cell(record.get(name)) for name in names])
    return path


def csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, list) else str(value)


def read_back_as_written(table: pa.Table, records: list[dict]) -> bool:
    """Whether the CSV file read back holds every value of the JSON records, each with its own kind."""
    for read, record in zip(table.to_pylist(), records):
        for name, value in record.items():
            if type(read[name]) is not type(value) or read[name] != value:
                return False
    return True


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(policy=policies(), records=contacts(), users=snapshots())
def test_batch_and_one_by_one_replay_agree_on_mixed_kinds_nulls_and_missing_columns(
    tmp_path_factory, policy, records, users
):
    assume(analyze(policy, "policy.rota")[0] is not None)
    tmp = tmp_path_factory.mktemp("agree")
    snapshot = tmp / "snapshot"
    snapshot.mkdir()
    (snapshot / "users.jsonl").write_text(users[0])
    (snapshot / "memberships.csv").write_text(users[1])
    users_once = Snapshot.from_directory(snapshot)  # read as `rota replay` reads it; a fresh roster per contact
    alone = {record["id"]: replayed_alone(policy, users_once, record) for record in records}
    loaded = load_snapshot(snapshot)  # what `rota batch` does, once for both files
    assert batched(policy, loaded, read_contacts(write_jsonl(tmp / "contacts.jsonl", records))) == alone
    try:
        as_csv = read_contacts(csv_of(records, tmp / "contacts.csv"))
    except StorageError as refused:  # CSV cannot carry a column of mixed kinds: it says which
        assert refused.diagnostic.code == DATA_MIXED_KINDS
        assert any(f"column `{name}` mixes" in str(refused) for name in ATTRIBUTES)
        return
    if read_back_as_written(as_csv, records):
        assert batched(policy, loaded, as_csv) == alone


def batched(policy: str, snapshot, contacts: pa.Table) -> dict[str, tuple]:
    compiled = compile_policy(analyze(policy, "policy.rota", snapshot_schema(snapshot.connection))[0])
    rows = run_batch(
        compiled, snapshot.connection, load_roster(snapshot.connection), contacts, datetime(2026, 11, 25, 10)
    )
    return {row["contact"]: tuple(row[name] for name in DECISION_FIELDS) for row in rows.to_pylist()}


@pytest.mark.parametrize("column", ["name", "deleted", "open_contacts", "last_assigned_at"])
def test_an_absent_optional_user_column_is_its_default_in_sql_and_in_python(tmp_path, column):
    """The batch compiles `only` to SQL over the users table; replay evaluates it in Python."""
    present = [name for name in ("name", "deleted", "open_contacts", "last_assigned_at") if name != column]
    header = ",".join(["id", "status", *present])
    values = {"name": "Ann", "deleted": "false", "open_contacts": "2", "last_assigned_at": "2026-11-24T10:00:00Z"}
    users = f"{header}\nu1,online,{','.join(values[name] for name in present)}\n"
    snapshot = write_snapshot(tmp_path / "snapshot", users, "team,user_id\ndesk,u1\n")
    condition = {
        "name": "name == null",
        "deleted": "open >= 0",
        "open_contacts": "open == 0",
        "last_assigned_at": "last_assigned_at == null",
    }[column]
    policy = f'route desk {{\n  assign to team "desk"\n  only {condition}\n  only contact.tier == 1\n}}\n'
    records = [{"id": "c1", "tier": 1}]
    batch = batch_rows(policy, snapshot, write_jsonl(tmp_path / "contacts.jsonl", records), tmp_path)
    assert batch["c1"] == ("desk", "assigned", "u1", "round_robin")
    assert replayed_alone(policy, snapshot, records[0]) == batch["c1"]


@pytest.mark.parametrize(
    "record, problem",
    [
        (
            {"type": "route", "contact": "c1", "attrs": {"assignee": True}},
            r"`assignee` must be a user id \(text\), got true",
        ),
        ({"type": "user", "user": "u1", "attrs": {"deleted": "yes"}}, '`deleted` must be true or false, got "yes"'),
        ({"type": "user", "user": "u1", "attrs": {"name": 7}}, "`name` must be text, got 7"),
    ],
)
def test_event_attrs_follow_the_rules_of_the_files(record, problem):
    with pytest.raises(ValueError, match=problem):
        event_from_record({"at": NOW, **record})
