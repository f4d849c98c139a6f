"""bench/scale.py keeps measuring what it says: every shape's policy runs, cells and drains count right.

Times are not checked (tests check behaviour, not time); the cells are run
in-process on a few users, so the script cannot silently break before a
`make bench`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "bench"))

import scale  # noqa: E402  (a script's module, found on the path set above)
from common import drain_costs, queued_engine  # noqa: E402


@pytest.mark.parametrize("shape", list(scale.SHAPES))
def test_a_cell_replays_its_whole_log_under_each_shape(shape: str) -> None:
    cell = scale.replay_cell(60, shape, 400, budget=60.0)
    assert cell["events"] == cell["of"] > 300  # the whole log but the events up to the first route
    assert 0 < cell["p50"] <= cell["p99"]
    assert cell["per_second"] > 0 and cell["memory"] > 0


def test_a_cell_stops_at_its_budget() -> None:
    cell = scale.replay_cell(60, scale.CAPS, 400, budget=0.0)
    assert cell["events"] == 1 < cell["of"]


def test_each_shape_filters_on_what_its_name_says() -> None:
    assert scale.SHAPES[scale.CAPS] == ""
    for name, line in scale.SHAPES.items():
        assert name == scale.CAPS or line == f"only {name}"


def test_each_drain_assigns_the_contacts_its_size_says() -> None:
    sizes = (1, 10, 100)
    engine, people = queued_engine(150, 20, sizes)
    _, costs = drain_costs(engine, people, sizes)  # asserts each drain's count of decisions
    assert [size for size, _ in costs] == list(sizes)
    assert len(engine.queue) == 150 - sum(sizes)
