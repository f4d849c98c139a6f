"""A replay sets its loaded state aside from the collector for its loop only (engine/replay.py).

The event log and roster live for the whole loop, so `gc.freeze` spares the
collector's full passes from walking them; after the loop, and after a loop
that fails, nothing stays frozen.
"""

from __future__ import annotations

import gc
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from rota.dsl import load_policy
from rota.engine import DurableEngine, Engine, Roster, User, compile_policy
from rota.engine.replay import EventError, load_events, replay_durable_events, replay_events
from rota.vocabulary import EventType, Status

POLICY = """\
route general {
  assign to space
  using least_open
  only online
}
"""


def records(count: int) -> list[dict]:
    start = datetime(2026, 11, 23, 8, 0)
    return [
        {
            "at": f"{start + timedelta(seconds=index):%Y-%m-%dT%H:%M:%S}Z",
            "type": EventType.ROUTE.value,
            "contact": f"c{index}",
        }
        for index in range(count)
    ]


def roster() -> Roster:
    return Roster.build([User("ann", status=Status.ONLINE.value)])


def test_a_durable_replay_runs_its_loop_frozen_and_thaws_after(tmp_path: Path) -> None:
    frozen_during: list[int] = []
    durable = DurableEngine.open(tmp_path / "engine.duckdb", POLICY, roster())
    events = load_events(records(6), "log")
    decisions, count = replay_durable_events(
        durable,
        events,
        tmp_path / "out.jsonl",
        events[-1].at,
        group_size=2,
        progress=lambda done, total: frozen_during.append(gc.get_freeze_count()),
    )
    durable.close()
    assert count == 6 and len(decisions) == 6
    assert len(frozen_during) == 3 and all(frozen > 0 for frozen in frozen_during)
    assert gc.get_freeze_count() == 0


def test_an_in_memory_replay_thaws_after_a_failing_loop(tmp_path: Path) -> None:
    engine = Engine(compile_policy(load_policy(POLICY)), roster())
    frozen_during: list[int] = []

    def fail(done: int, total: int) -> None:
        frozen_during.append(gc.get_freeze_count())
        raise EventError("stopped")

    with pytest.raises(EventError):
        replay_events(engine, records(4096), "log", tmp_path / "out.jsonl", None, progress=fail)
    assert frozen_during and frozen_during[0] > 0
    assert gc.get_freeze_count() == 0
