"""The store's write-ahead journal: commits kept as pickled bodies, read back safely, and
JSON bodies left by files written before that still folded in."""

import json
import pickle
import threading
from datetime import datetime

import duckdb
import pytest

from rota.storage import EngineStore
from rota.storage.engine_store import Changes, _unpickled

AT = datetime(2026, 11, 25, 9, 30)
DECISION = (0, AT, "c1", "general", "queued", None, None, datetime(2026, 11, 25, 10), "v1", 0)


def test_a_commit_not_yet_folded_is_read_back_from_the_journal(tmp_path):
    store = EngineStore(tmp_path / "engine.duckdb")
    store.commit(Changes(decisions=[DECISION], meta={"events_applied": "1"}))
    store.connection.close()  # a crash: nothing folded
    journal = duckdb.connect(str(tmp_path / "engine.duckdb"))
    assert journal.execute("SELECT count(*) FROM binary_journal").fetchall() == [(1,)]
    journal.close()
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


def test_readers_beside_the_writer_never_find_the_connection_busy(tmp_path):
    """The service reads the store (explain's 404, exports, the feed) while its writer commits: every
    public read shares the writer's lock, or DuckDB refuses the writer and the service stops taking changes."""
    store = EngineStore(tmp_path / "engine.duckdb")
    failures: list[BaseException] = []

    def write() -> None:
        try:
            for seq in range(300):
                store.commit(Changes(decisions=[(seq, *DECISION[1:])], meta={"events_applied": str(seq)}))
        except BaseException as failure:
            failures.append(failure)

    writer = threading.Thread(target=write)
    writer.start()
    reads = (
        lambda: store.count("decisions"),
        store.meta,
        lambda: store.rows("rotation", "pool"),
        lambda: store.decisions_after(-1, 10),
        lambda: store.delivered_through("http://x"),
        store.last_input_at,
    )
    while writer.is_alive():
        for read in reads:
            read()
    writer.join()
    assert failures == []
    assert store.count("decisions") == 300
    store.close()
