"""Data problems as Diagnostics: one line naming the file, the row and the column.

A `StorageError` carries the `rota.diagnostics.Diagnostic` of the problem;
`str(error)` is the line the command prints after `rota: error: `:
`FILE:LINE: MESSAGE; HINT [CODE]`. LINE is the file's own count of where the
row is: the line number in CSV (the header is line 1) and JSON lines files,
the item's position in a JSON array (`FILE: item N`), the row's position in
Parquet (`FILE: row N`). Warnings are the same Diagnostics with severity
WARNING; the commands print them as `rota: warning: ...`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rota.diagnostics import DATA_UNREADABLE, ERROR, WARNING, Code, Diagnostic

Warn = Callable[[Diagnostic], None]


class StorageError(Exception):
    """Bad input, said in one line that names the file, the row and the problem."""

    def __init__(self, problem: Diagnostic | str):
        if isinstance(problem, str):  # a problem with no place in a data file (an output path)
            problem = Diagnostic("", 0, 0, problem, code=DATA_UNREADABLE)
        self.diagnostic = problem
        super().__init__(str(self))

    def __str__(self) -> str:
        if not self.diagnostic.file:
            return self.diagnostic.message
        return one_line(self.diagnostic)


def one_line(diagnostic: Diagnostic) -> str:
    """`FILE:LINE: MESSAGE; HINT [CODE]`, the place written the way the file counts its rows."""
    text = f"{place(diagnostic.file, diagnostic.line)}: {diagnostic.message}"
    if diagnostic.hint:
        text += f"; {diagnostic.hint}"
    return f"{text} [{diagnostic.code.id}]"


def row_word(file: str | Path) -> str:
    """What a file counts its rows by: `line` (CSV, JSON lines), `item` (a JSON array), `row` (Parquet)."""
    return {".json": "item", ".parquet": "row"}.get(Path(file).suffix.lower(), "line")


def place(file: str, row: int) -> str:
    if row <= 0:
        return file
    word = row_word(file)
    return f"{file}:{row}" if word == "line" else f"{file}: {word} {row}"


def data_error(
    path: Path | str, message: str, code: Code, row: int = 0, column: int = 0, hint: str | None = None
) -> StorageError:
    return StorageError(Diagnostic(str(path), row, column, message, hint, ERROR, code))


def data_warning(
    path: Path | str, message: str, code: Code, row: int = 0, column: int = 0, hint: str | None = None
) -> Diagnostic:
    return Diagnostic(str(path), row, column, message, hint, WARNING, code)
