"""What the command line shows a person: progress and summaries, on stderr.

On a terminal, rich draws as it likes (colour, bars, spinners, the terminal's
width). Anywhere else (a pipe, a file, `make`, CI) the output is plain lines:
never wrapped, no colour or control codes, no trailing spaces.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO, cast

from rich.console import Console
from rich.table import Table

from rota.dsl import Diagnostic

from .jobs import BatchSummary, ReplaySummary
from .jobs import Progress as ProgressCallback
from .wording import plural

# Wide enough that nothing a command prints is ever wrapped when not on a terminal.
UNWRAPPED_WIDTH = 100_000


def console_for(stream: TextIO) -> Console:
    """The console the command line prints through on `stream` (sys.stdout or sys.stderr)."""
    terminal = Console(file=stream, highlight=False)
    if terminal.is_terminal:
        return terminal
    return Console(
        file=cast(TextIO, _PlainLines(stream)),  # rich only writes, flushes and reads its encoding
        width=UNWRAPPED_WIDTH,
        soft_wrap=True,
        force_terminal=False,
        color_system=None,
        highlight=False,
        emoji=False,
    )


class _PlainLines:
    """A text stream that drops the spaces rich pads lines with (tables, justified text)."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.pending = ""  # the start of a line not yet ended

    @property
    def encoding(self) -> str:
        return getattr(self.stream, "encoding", None) or "utf-8"

    def write(self, text: str) -> int:
        *lines, self.pending = (self.pending + text).split("\n")
        self.stream.write("".join(line.rstrip(" ") + "\n" for line in lines))
        return len(text)

    def flush(self) -> None:
        self.stream.write(self.pending)
        self.pending = ""
        self.stream.flush()

    def isatty(self) -> bool:
        return False


def check_summary(file_count: int, diagnostics: list[Diagnostic]) -> str:
    errors = sum(1 for d in diagnostics if d.is_error)
    warnings = len(diagnostics) - errors
    files = plural(file_count, "file")
    if not diagnostics:
        return f"checked {files}: no problems"
    return f"checked {files}: {plural(errors, 'error')}, {plural(warnings, 'warning')}"


@contextmanager
def progress_bar(console: Console, description: str) -> Iterator[ProgressCallback]:
    """A callback `(done, total)` drawing a bar; quiet when stderr is not a terminal."""
    if not console.is_terminal:  # nothing to draw: rich's progress is not even imported
        yield lambda done, total: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    task = bar.add_task(description, total=None)
    with bar:
        yield lambda done, total: bar.update(task, completed=done, total=total)


def print_batch_summary(console: Console, summary: BatchSummary, out_path: str) -> None:
    rate = summary.contacts / summary.seconds if summary.seconds else 0.0
    console.print(
        f"routed {plural(summary.contacts, 'contact')} in {summary.seconds:.2f}s ({rate:,.0f}/s); wrote {out_path}",
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
        f"replayed {plural(summary.events, 'event')} into {plural(summary.decisions, 'decision')} in "
        f"{summary.seconds:.2f}s ({rate:,.0f} events/s); wrote {out_path}",
        markup=False,
        highlight=False,
    )
    console.print(_counts_table("outcome", summary.outcomes))
    if summary.waits:
        from .waits import WaitSummary, duration

        waits = WaitSummary.of(summary.waits)
        console.print(
            f"queue waits of {plural(waits.count, 'assigned contact')}: p50 {duration(waits.p50)}, "
            f"p90 {duration(waits.p90)}, max {duration(waits.maximum)}",
            markup=False,
            highlight=False,
        )
    if summary.busiest_users:
        console.print(_counts_table("busiest users", dict(summary.busiest_users)))


def with_times_as_text(rows: list[dict]) -> list[dict]:
    """Decision rows of an engine file with `at` and `deadline` as ISO 8601 text, as the service sends them."""
    from rota.engine import format_instant

    return [{**row, "at": format_instant(row["at"]), "deadline": format_instant(row["deadline"])} for row in rows]


def print_decisions(rows: list[dict], output_format: str) -> None:
    """The decision log on stdout (times as text): JSON lines, or aligned columns for a person."""
    if output_format == "json":
        from rota.storage.engine_store import DECISION_COLUMNS

        for row in rows:  # in the engine file's column order, however the row came (file or service)
            print(json.dumps({column: row.get(column) for column in DECISION_COLUMNS}))
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
    console_for(sys.stdout).print(table)


def print_status(status: dict, output_format: str) -> None:
    """`rota status` on stdout: one JSON line, or the counts and then each user's open contacts."""
    if output_format == "json":
        print(json.dumps(status))
        return
    users = status["users"]
    console = console_for(sys.stdout)
    summary = Table(box=None, pad_edge=False, show_header=False)
    summary.add_column()
    summary.add_column()
    summary.add_row("queue", plural(status["queue_length"], "contact") + " waiting")
    summary.add_row("users online", f"{status['users_online']:,} of {plural(len(users), 'user')}")
    summary.add_row("open contacts", f"{status['open_contacts']:,}")
    console.print(summary)
    if not users:
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("user", "status", "open"):
        table.add_column(column, justify="right" if column == "open" else "left")
    for user in users:
        table.add_row(user["id"], user["status"] or "", str(user["open"]))
    console.print()
    console.print(table)
