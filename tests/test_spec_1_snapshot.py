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
