"""SPEC 1: the snapshot, and the files rota reads and writes."""

import json

import pyarrow as pa
import pytest

from rota.storage import StorageError, load_snapshot, read_contacts, read_events, write_table


def write(directory, name, text):
    path = directory / name
    path.write_text(text)
    return path


@pytest.fixture
def snapshot_dir(tmp_path):
    write(
        tmp_path,
        "users.csv",
        "id,name,status,open_contacts,last_assigned_at,skills,level\n"
        'u1,Ann,online,2,2026-11-24T10:00:00+01:00,"[""billing""]",3\n'
        'u2,Bob,away,,,"[]",\n',
    )
    write(tmp_path, "memberships.csv", "team,user_id\nVIP,u1\nVIP,u1\nVIP,ghost\n")
    return tmp_path


def test_users_get_defaults_utc_times_and_list_columns(snapshot_dir):
    snapshot = load_snapshot(snapshot_dir)
    rows = snapshot.connection.sql("SELECT * FROM users ORDER BY id").fetchall()
    columns = list(snapshot.user_columns)
    ann, bob = (dict(zip(columns, row)) for row in rows)
    assert ann["deleted"] is False and bob["open_contacts"] == 0
    assert ann["last_assigned_at"].isoformat() == "2026-11-24T09:00:00"
    assert ann["skills"] == ["billing"] and snapshot.user_columns["skills"] == "VARCHAR[]"
    assert bob["last_assigned_at"] is None


def test_memberships_of_unknown_users_are_left_out_with_a_warning(snapshot_dir):
    snapshot = load_snapshot(snapshot_dir)
    assert snapshot.connection.sql("SELECT team, user_id FROM memberships").fetchall() == [("VIP", "u1")]
    assert "left out" in snapshot.warnings[0].message


@pytest.mark.parametrize("extension", ["parquet", "json", "jsonl"])
def test_every_format_loads_the_same(tmp_path, extension):
    users = pa.table({"id": ["u1"], "status": ["online"], "skills": [["tech"]]})
    write_table(users, tmp_path / f"users.{extension}")
    snapshot = load_snapshot(tmp_path)
    assert snapshot.user_ids == frozenset({"u1"})
    assert snapshot.connection.sql("SELECT skills FROM users").fetchall() == [(["tech"],)]


@pytest.mark.parametrize(
    "users_csv, problem",
    [
        ("name,status\nAnn,online\n", "missing column `id`"),
        ("id,status\nu1,busy\n", "unknown status `busy`"),
        ("id,status\nu1,online\nu1,away\n", "`u1` appears twice"),
        ("id,status,open_contacts\nu1,online,-1\n", "`open_contacts` must hold whole numbers >= 0"),
        ("id\nu1\n", "missing column `status`"),
    ],
)
def test_bad_users_are_one_line_naming_the_file(tmp_path, users_csv, problem):
    write(tmp_path, "users.csv", users_csv)
    with pytest.raises(StorageError) as raised:
        load_snapshot(tmp_path)
    assert problem in str(raised.value) and "users.csv" in str(raised.value)
    assert "\n" not in str(raised.value)


def test_missing_users_and_two_files_for_one_table(tmp_path):
    with pytest.raises(StorageError, match="no `users` file"):
        load_snapshot(tmp_path)
    write(tmp_path, "users.csv", "id,status\nu1,online\n")
    write(tmp_path, "users.jsonl", '{"id": "u1", "status": "online"}\n')
    with pytest.raises(StorageError, match="two files for table `users`"):
        load_snapshot(tmp_path)


def test_contacts_keep_file_order_and_ids_are_text(tmp_path):
    path = write(tmp_path, "contacts.jsonl", "\n".join(json.dumps({"id": i, "tags": ["x"]}) for i in (3, 1, 2)))
    contacts = read_contacts(path)
    assert contacts.column("id").to_pylist() == ["3", "1", "2"]
    with pytest.raises(StorageError, match="appears twice"):
        read_contacts(write(tmp_path, "dup.csv", "id\nc1\nc1\n"))


@pytest.mark.parametrize("extension", ["csv", "parquet", "json", "jsonl"])
def test_written_tables_read_back(tmp_path, extension):
    table = pa.table({"contact": ["c1", "c2"], "user": ["u1", None]})
    write_table(table, tmp_path / f"out.{extension}")
    assert load_back(tmp_path / f"out.{extension}") == [("c1", "u1"), ("c2", None)]


def load_back(path):
    import duckdb

    from rota.storage.files import relation_sql

    return duckdb.sql(f'SELECT contact, "user" FROM {relation_sql(path)}').fetchall()


def test_a_failed_write_leaves_nothing(tmp_path):
    nested = pa.table({"nested": pa.array([{"a": [1]}])})  # CSV cannot hold a struct
    with pytest.raises(pa.ArrowException):
        write_table(nested, tmp_path / "out.csv")
    assert list(tmp_path.iterdir()) == []


def test_event_logs_name_the_bad_line(tmp_path):
    path = write(tmp_path, "events.jsonl", '{"at": "2026-11-25T09:00:00Z", "type": "close", "contact": "c1"}\n{oops\n')
    with pytest.raises(StorageError, match="events.jsonl:2"):
        read_events(path)


# ------------------------------------------- how a column's kind is decided (README "The snapshot")


def contacts_of(tmp_path, name, text):
    return read_contacts(write(tmp_path, name, text))


def test_a_csv_column_has_the_one_kind_all_its_cells_read_as(tmp_path):
    contacts = contacts_of(
        tmp_path,
        "contacts.csv",
        "id,tier,score,vip,seen,tags,note\n"
        'c1,1,2.5,true,2026-11-25T10:00:00+01:00,"[vip, spam]",hello\n'
        'c2,2,3,FALSE,2026-11-25 10:00,"[""vip""]",[EXTERNAL] hi\n'
        "c3,,,,,[],\n",
    )
    kinds = {field.name: str(field.type) for field in contacts.schema}
    assert kinds == {
        "id": "string",
        "tier": "int64",
        "score": "double",
        "vip": "bool",
        "seen": "timestamp[us]",
        "tags": "list<item: string>",
        "note": "string",
        "assignee": "string",
    }
    first, second, third = contacts.to_pylist()
    assert first["seen"].isoformat() == "2026-11-25T09:00:00" and second["seen"].isoformat() == "2026-11-25T10:00:00"
    assert [first["tags"], second["tags"], third["tags"]] == [["vip", "spam"], ["vip"], []]
    assert third["tier"] is None and third["assignee"] is None


def test_ids_are_text_in_every_format_even_when_they_look_like_numbers(tmp_path):
    assert contacts_of(tmp_path, "c.csv", "id,assignee\n007,12\n").to_pylist()[0] == {"id": "007", "assignee": "12"}
    assert contacts_of(tmp_path, "c.jsonl", '{"id": 7, "assignee": 12}\n').to_pylist()[0] == {
        "id": "7",
        "assignee": "12",
    }


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "id,tier\nc1,1\nc2,gold\n",
            "contacts.csv:3: column `tier` mixes numbers (line 2: `1`) and text (line 3: `gold`); CSV cells carry no "
            "kind, so a column has one: fix the odd cells, or write the file as JSON lines, where each value keeps "
            "its own kind [D404]",
        ),
        (
            'id,tags\nc1,"[vip]"\nc2,"[""a"", [1]]"\n',
            'contacts.csv:3: column `tags` holds lists, and `["a", [1]]` is not one; write a list as JSON '
            '(["a", "b"]) or the way DuckDB writes one ([a, b]) [D403]',
        ),
        ("id,seen\nc1,2026-11-25\nc2,2026-13-45\n", "contacts.csv:3: column `seen` must hold times (ISO 8601)"),
        ('id,note\nc1,"two\nlines"\nc2,5\n', "contacts.csv:4: column `note` mixes text (line 2: `two\\nlines`)"),
    ],
)
def test_a_csv_column_that_mixes_kinds_stops_at_the_first_row_that_disagrees(tmp_path, text, message):
    with pytest.raises(StorageError) as raised:
        contacts_of(tmp_path, "contacts.csv", text)
    assert str(raised.value).replace(str(tmp_path) + "/", "").startswith(message)


def test_json_values_keep_their_own_kind_and_json_has_no_times(tmp_path):
    from rota.storage import column_values, is_json_type

    lines = [
        {"id": "c1", "tier": 1, "seen": "2026-11-25T10:00:00Z", "tags": ["vip"], "price": 2},
        {"id": "c2", "tier": "gold", "tags": [1, "x"], "price": 2.5},
    ]
    contacts = contacts_of(tmp_path, "contacts.jsonl", "".join(json.dumps(line) + "\n" for line in lines))
    assert is_json_type(contacts.schema.field("tier").type) and is_json_type(contacts.schema.field("tags").type)
    assert column_values(contacts.column("tier")) == [1, "gold"]
    assert column_values(contacts.column("tags")) == [["vip"], [1, "x"]]
    assert contacts.column("seen").to_pylist() == ["2026-11-25T10:00:00Z", None]
    assert contacts.column("price").to_pylist() == [2, 2.5]  # integers and decimals are both numbers


def test_parquet_columns_are_typed_by_the_file_times_in_utc(tmp_path):
    import datetime
    import decimal

    import pyarrow.parquet as pq

    paris = datetime.timezone(datetime.timedelta(hours=1))
    table = pa.table(
        {
            "id": pa.array(["c1"]).dictionary_encode(),
            "seen": pa.array([datetime.datetime(2026, 11, 25, 10, tzinfo=paris)], pa.timestamp("ms", "Europe/Paris")),
            "price": pa.array([decimal.Decimal("1.50")], pa.decimal128(5, 2)),
            "day": pa.array([datetime.date(2026, 11, 25)]),
        }
    )
    pq.write_table(table, tmp_path / "contacts.parquet")
    contact = read_contacts(tmp_path / "contacts.parquet").to_pylist()[0]
    assert contact == {
        "id": "c1",
        "seen": datetime.datetime(2026, 11, 25, 9),
        "price": 1.5,
        "day": datetime.datetime(2026, 11, 25),
        "assignee": None,
    }


def test_a_snapshot_without_the_optional_columns_has_their_defaults(tmp_path):
    write(tmp_path, "users.csv", "id,status\nu1,online\n")
    snapshot = load_snapshot(tmp_path)
    row = dict(zip(snapshot.user_columns, snapshot.connection.execute("SELECT * FROM users").fetchone()))
    assert row == {
        "id": "u1",
        "name": None,
        "status": "online",
        "deleted": False,
        "open_contacts": 0,
        "last_assigned_at": None,
    }


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("users.csv", "id,status,deleted\nu1,online,yes\n", "users.csv:2: column `deleted` must hold true or false"),
        ("users.csv", "id,status,open_contacts\nu1,online,1.5\n", "users.csv:2: column `open_contacts` must hold"),
        ("users.csv", "id,status,last_assigned_at\nu1,online,soon\n", "users.csv:2: column `last_assigned_at`"),
        ("users.csv", "id,status\nu1,online\nu2,\n", "users.csv:3: this user has no status"),
        ("users.jsonl", '{"id": "u1", "status": "online", "deleted": "true"}\n', 'true or false, not `"true"`'),
        ("users.json", '[{"id": "u1", "status": "online"}, {"id": "u1", "status": "away"}]', "users.json: item 2:"),
    ],
)
def test_bad_built_in_user_values_name_the_row(tmp_path, name, text, message):
    write(tmp_path, name, text)
    with pytest.raises(StorageError) as raised:
        load_snapshot(tmp_path)
    assert message in str(raised.value)
    assert raised.value.diagnostic.line > 0 and raised.value.diagnostic.code.id.startswith("D4")


# ------------------------------------------------------------------ broken files

LIBRARY_WORDS = ("Error", "Exception", "Traceback", "codec", "duckdb", "pyarrow", "Expecting")


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("contacts.jsonl", b'{"id": "c1"}\n{oops\n', "contacts.jsonl:2: not a JSON object"),
        ("contacts.jsonl", b'{"id": "c1"}\n[1]\n', "contacts.jsonl:2: each line must be a JSON object"),
        ("contacts.jsonl", b'{"id": "c1"}\n{"id": "caf\xe9"}\n', "contacts.jsonl:2: not UTF-8 text (byte 0xe9)"),
        ("contacts.csv", b"id,tier\nc1,caf\xe9\n", "contacts.csv:2: not UTF-8 text"),
        ("contacts.csv", b"id,tier\nc1,1\nc2,2,3\n", "contacts.csv:3: this row has 3 cells, the header has 2"),
        ("contacts.csv", b'id,tier\nc1,"1\nc2,2\n', "contacts.csv:2: a quoted cell is never closed"),
        ("contacts.csv", b"id,tier,tier\nc1,1,2\n", "contacts.csv:1: the header names column `tier` twice"),
        ("contacts.csv", b"", "contacts.csv: the file is empty"),
        ("contacts.jsonl", b"\n\n", "contacts.jsonl: the file is empty"),
        ("contacts.json", b'[{"id": "c1"},', "contacts.json: line 1: not a JSON object"),
        ("contacts.parquet", b"PAR1 not really", "contacts.parquet: not a Parquet file"),
        ("contacts.csv", b"tier\n1\n", "contacts.csv: missing column `id`"),
    ],
)
def test_a_broken_file_is_one_line_naming_the_file_and_the_line(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(StorageError) as raised:
        read_contacts(path)
    said = str(raised.value).replace(str(tmp_path) + "/", "")
    assert said.startswith(message) and "\n" not in said
    assert not any(word in said for word in LIBRARY_WORDS), said


def test_line_endings_may_mix_and_a_header_alone_is_no_contacts(tmp_path):
    mixed = contacts_of(tmp_path, "mixed.csv", "id,tier\r\nc1,1\nc2,2\r\n")
    assert mixed.column("tier").to_pylist() == [1, 2]
    assert contacts_of(tmp_path, "header.csv", "id,tier\n").num_rows == 0
    assert contacts_of(tmp_path, "semicolons.csv", "\ufeffid;tier\nc1;3\n").column("tier").to_pylist() == [3]


def test_rows_are_counted_as_the_file_counts_them(tmp_path):
    """Line numbers skip nothing: blank lines and cells over two lines count."""
    with pytest.raises(StorageError, match=r"contacts.jsonl:4: this contact has no `id`"):
        contacts_of(tmp_path, "contacts.jsonl", '{"id": "c1"}\n\n\n{"tier": 1}\n')
    with pytest.raises(StorageError, match=r"contacts.csv:5: contact `c1` appears twice \(lines 2 and 5\)"):
        contacts_of(tmp_path, "contacts.csv", 'id,note\nc1,"a\nb"\n\nc1,x\n')


def test_an_event_log_is_read_by_the_same_rules(tmp_path):
    with pytest.raises(StorageError, match="events.jsonl:1: not UTF-8"):
        read_events(write_bytes(tmp_path / "events.jsonl", b'{"at": "2026-11-25T09:00:00Z", "type": "caf\xe9"}\n'))
    with pytest.raises(StorageError, match="is a folder"):
        read_events(tmp_path)


def write_bytes(path, content):
    path.write_bytes(content)
    return path


# ------------------------------------------------------------------ warnings


def test_a_user_column_with_no_value_is_untyped_and_warned_about(tmp_path):
    from rota.diagnostics import WARNING
    from rota.engine import snapshot_schema

    write(tmp_path, "users.csv", "id,status,level\nu1,online,\nu2,away,\n")
    snapshot = load_snapshot(tmp_path)
    (warning,) = snapshot.warnings
    assert (warning.severity, warning.code.id, warning.column) == (WARNING, "D407", 3)
    assert "column `level` holds no value in any row" in warning.message
    assert snapshot_schema(snapshot.connection).user_columns["level"].value == "unknown"


def commands_loading(snapshot, tmp_path):
    policy = write(tmp_path, "desk.rota", "route desk {\n  assign to space\n}\n")
    contacts = write(tmp_path, "contacts.csv", "id\nc1\n")
    events = write(tmp_path, "events.jsonl", '{"at": "2026-11-25T09:00:00Z", "type": "route", "contact": "c1"}\n')
    out = str(tmp_path / "out.jsonl")
    return {
        "check": ["check", str(policy), "--snapshot", snapshot],
        "batch": ["batch", str(policy), "--snapshot", snapshot, "--contacts", str(contacts), "--out", out],
        "replay": ["replay", str(policy), "--snapshot", snapshot, "--events", str(events), "--out", out],
        "verify": ["verify", str(policy), "--snapshot", snapshot, "--examples", "1", "--failures", str(tmp_path)],
        "simulate": ["simulate", str(policy), "--snapshot", snapshot, "--hours", "0.1", "--report", out + ".html"],
        "serve": [
            "serve",
            "--db",
            str(tmp_path / "e.duckdb"),
            "--policy",
            str(policy),
            "--snapshot",
            snapshot,
            "--port",
            "0",
        ],
    }


@pytest.mark.parametrize("command", ["check", "batch", "replay", "verify", "simulate", "serve"])
def test_every_command_that_loads_a_snapshot_prints_its_warnings(snapshot_dir, tmp_path, capsys, monkeypatch, command):
    import uvicorn

    from rota.cli import main

    monkeypatch.setattr(uvicorn.Server, "run", lambda server, sockets=None: None)  # serve: up, then straight down
    work = tmp_path / "work"
    work.mkdir()
    assert main(commands_loading(str(snapshot_dir), work)[command]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("rota: warning: ")]
    assert warnings == [
        f"rota: warning: {snapshot_dir}/memberships.csv:4: 1 membership of users not in users.csv left out "
        "(the first: user `ghost`, line 4) [D406]"
    ]
