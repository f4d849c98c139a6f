"""What the command line shows a person: progress and summaries, on stderr."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from rota.dsl import Diagnostic

from .jobs import BatchSummary, ReplaySummary
from .jobs import Progress as ProgressCallback


def check_summary(file_count: int, diagnostics: list[Diagnostic]) -> str:
    errors = sum(1 for d in diagnostics if d.is_error)
    warnings = len(diagnostics) - errors
    files = f"{file_count} file{'s' if file_count != 1 else ''}"
    if not diagnostics:
        return f"checked {files}: no problems"
    return (
        f"checked {files}: {errors} error{'s' if errors != 1 else ''}, {warnings} warning{'s' if warnings != 1 else ''}"
    )


@contextmanager
def progress_bar(console: Console, description: str) -> Iterator[ProgressCallback]:
    """A callback `(done, total)` drawing a bar; quiet when stderr is not a terminal."""
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    task = bar.add_task(description, total=None)
    with bar:
        yield lambda done, total: bar.update(task, completed=done, total=total)


def print_batch_summary(console: Console, summary: BatchSummary, out_path: str) -> None:
    rate = summary.contacts / summary.seconds if summary.seconds else 0.0
    console.print(
        f"routed {summary.contacts:,} contacts in {summary.seconds:.2f}s ({rate:,.0f}/s); wrote {out_path}",
        markup=False,
        highlight=False,
    )
    console.print(_counts_table("outcome", summary.outcomes))
    console.print(_counts_table("route", summary.routes))
    if summary.busiest_users:
        console.print(_counts_table("busiest users (assigned in this batch)", dict(summary.busiest_users)))


def _counts_table(title: str, counts) -> Table:
    table = Table(title=None, show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column(title)
    table.add_column("contacts", justify="right")
    for name, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        table.add_row(str(name), f"{count:,}")
    return table


def print_replay_summary(console: Console, summary: ReplaySummary, out_path: str) -> None:
    rate = summary.events / summary.seconds if summary.seconds else 0.0
    console.print(
        f"replayed {summary.events:,} events into {summary.decisions:,} decisions in "
        f"{summary.seconds:.2f}s ({rate:,.0f} events/s); wrote {out_path}",
        markup=False,
        highlight=False,
    )
    console.print(_counts_table("outcome", summary.outcomes))
    if summary.waits:
        waits = summary.waits
        console.print(
            f"queue waits of {len(waits):,} assigned contacts: p50 {_percentile(waits, 50)}, "
            f"p90 {_percentile(waits, 90)}, max {_duration(waits[-1])}",
            markup=False,
            highlight=False,
        )
    if summary.busiest_users:
        console.print(_counts_table("busiest users", dict(summary.busiest_users)))


def _percentile(sorted_values: list[float], percent: int) -> str:
    index = min(len(sorted_values) - 1, max(0, round(percent / 100 * len(sorted_values)) - 1))
    return _duration(sorted_values[index])


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{seconds:02d}s" if hours else f"{minutes}m{seconds:02d}s"


def print_decisions(rows: list[dict], output_format: str) -> None:
    """The decision log on stdout: JSON lines, or aligned columns for a person."""
    from rota.engine import format_instant

    for row in rows:
        row["at"], row["deadline"] = format_instant(row["at"]), format_instant(row["deadline"])
    if output_format == "json":
        for row in rows:
            print(json.dumps(row))
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("at", "contact", "route", "outcome", "user", "reason", "deadline", "candidates"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            *(
                "" if row[c] is None else str(row[c])
                for c in ("at", "contact", "route", "outcome", "user", "reason", "deadline", "candidates")
            )
        )
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = 200
    console.print(table)
