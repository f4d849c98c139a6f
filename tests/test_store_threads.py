"""The engine store's one DuckDB connection, shared by the service's threads: DuckDB refuses a call made
while another thread's is running ("connection is busy"), so every read takes the store's lock. A read that
did not once made a timer tick's commit fail, and the service then answered 503 to every change."""

import threading

from rota.storage import EngineStore


def test_reads_beside_a_writer_never_find_the_connection_busy(tmp_path):
    store = EngineStore(tmp_path / "engine.duckdb")
    failures: list[BaseException] = []
    done = threading.Event()

    def write() -> None:
        try:
            for seq in range(300):  # a locked statement on the connection, as the webhook's mark is saved
                store.save_delivered_through("http://receiver", seq)
        except BaseException as error:
            failures.append(error)
        finally:
            done.set()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while not done.is_set():
            store.count("decisions"), store.meta(), store.rows("users", "id")
    except BaseException as error:
        failures.append(error)
    writer.join()
    store.close()
    assert failures == []
