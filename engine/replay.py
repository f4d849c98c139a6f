"""Replaying an event log through the engine (SPEC 5.1 `rota replay`).

Deterministic: the clock comes from the events, events of one instant run in
input order (the log is sorted by time, stably), and the same log and
policy give the same rows byte for byte.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from json.encoder import encode_basestring  # the string escaper of JSONEncoder(ensure_ascii=False)
from pathlib import Path

from rota.storage.files import replaced_atomically

from .decisions import REPLAY_COLUMNS, Decision
from .history import POLICY_EVENT, POLICY_ONLY_IN_AN_EXPORT
from .scheduler import Engine, Event, event_from_record

Progress = Callable[[int, int], None]


# One encoder for every row: `json.dumps` with options builds a new one per call.
_ROW_ENCODER = json.JSONEncoder(ensure_ascii=False)
# A row whose values are all text or null, as that encoder writes it, without walking a dict.
_ROW_TEMPLATE = "{" + ", ".join(f'"{column}": %s' for column in REPLAY_COLUMNS) + "}\n"


def json_line(decision: Decision) -> str:
    """The decision's row (SPEC 5.1) as a JSON line, byte for byte what `json.dumps` writes."""
    values = decision.row_values()
    if all(value is None or type(value) is str for value in values):
        return _ROW_TEMPLATE % tuple("null" if value is None else encode_basestring(value) for value in values)
    return _ROW_ENCODER.encode(decision.row()) + "\n"


@contextmanager
def loaded_state_frozen() -> Iterator[None]:
    """Everything alive when a replay's loop starts (the event log, the roster, the policy)
    lives until it ends, so the collector's full passes need not walk it: `gc.freeze` sets it
    aside for the loop (about 6% of a durable replay's CPU on a 200,000-event log), and it
    is given back to the collector after."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class EventError(ValueError):
    """A bad line in an event log, with its place."""


def load_events(records: Iterable[dict], source: str) -> list[Event]:
    events = []
    for line_number, record in enumerate(records, 1):
        try:
            if record.get("type") == POLICY_EVENT:  # an export's own line: say where it is read
                raise ValueError(POLICY_ONLY_IN_AN_EXPORT)
            events.append(event_from_record(record))
        except ValueError as error:
            raise EventError(f"{source}:{record.get('_line', line_number)}: {error}") from None
    return sorted(events, key=lambda event: event.at)


def replay_events(
    engine: Engine,
    records: Iterable[dict],
    source: str | Path,
    out_path: str | Path,
    until: datetime | None,
    progress: Progress | None = None,
) -> tuple[list[Decision], int]:
    """Run the events up to `until` (default: the last event's time), then fire the
    timeouts due by then; write every decision as a JSON line, atomically."""
    events = load_events(records, str(source))
    if until is None and events:
        until = events[-1].at
    decisions: list[Decision] = []
    handled = 0
    with loaded_state_frozen():
        for handled, event in enumerate((e for e in events if until is None or e.at <= until), 1):
            decisions += engine.handle(event)
            if progress is not None and handled % 4096 == 0:
                progress(handled, len(events))
    if until is not None:
        decisions += engine.advance(until, inclusive=True)
    write_rows(decisions, out_path)
    if progress is not None:
        progress(len(events), len(events))
    return decisions, handled


def replay_window(events: list[Event], until: datetime | None) -> tuple[list[Event], datetime | None]:
    """The events a replay applies, those at or before `until`, and the time it fires
    timeouts up to: `until`, or by default the last event's time."""
    if until is None:
        return events, events[-1].at if events else None
    return [event for event in events if event.at <= until], until


def replay_durable(
    durable,
    records: Iterable[dict],
    source: str | Path,
    out_path: str | Path,
    until: datetime | None,
    group_size: int = 1024,
    progress: Progress | None = None,
) -> tuple[list[Decision], int]:
    """Like `replay_events`, on a DurableEngine: the log's records read and checked, then
    `replay_durable_events`."""
    events, until = replay_window(load_events(records, str(source)), until)
    return replay_durable_events(durable, events, out_path, until, group_size, progress)


def replay_durable_events(
    durable,
    events: Sequence[Event],
    out_path: str | Path,
    until: datetime | None,
    group_size: int = 1024,
    progress: Progress | None = None,
) -> tuple[list[Decision], int]:
    """The events and time of a `replay_window` through a DurableEngine: commits every
    `group_size` events and appends to `out_path` only decisions already on disk.
    Reopened after a crash, it skips the events the file has applied and carries on.
    Returns every decision written (an earlier run's included) and the count of events."""
    written: list[Decision] = []
    with open(out_path, "w", encoding="utf-8") as out:

        def report(decisions: list[Decision]) -> None:
            out.writelines(json_line(decision) for decision in decisions)
            out.flush()
            written.extend(decisions)

        # What a killed run reported may end in a torn line: start from the log on disk.
        report(durable.logged())
        with loaded_state_frozen():
            for index in range(durable.events_applied, len(events)):
                durable.handle(events[index])
                if (index + 1) % group_size == 0:
                    report(durable.commit())
                    if progress is not None:
                        progress(index + 1, len(events))
        if until is not None:
            durable.advance(until, inclusive=True)
        report(durable.commit())
    return written, len(events)


def write_rows(decisions: list[Decision], out_path: str | Path) -> None:
    with replaced_atomically(out_path) as temporary, open(temporary, "w", encoding="utf-8") as out:
        for decision in decisions:
            out.write(json_line(decision))
