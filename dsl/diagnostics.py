"""Problems found in a policy, as values with a place.

A Diagnostic is what every stage of the checker returns instead of raising:
the file, line and column, a message in the user's words and, when one
helps, a hint ("did you mean `least_open`?").
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, asdict
from typing import Iterable

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Diagnostic:
    file: str
    line: int
    column: int
    message: str
    hint: str | None = None
    severity: str = ERROR

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def sort_key(self) -> tuple:
        return (self.file, self.line, self.column, self.message)

    def to_json(self) -> dict:
        return asdict(self)

    def render(self, source: str | None = None) -> str:
        """`FILE:LINE:COL: error: MESSAGE`, then the source line with a caret."""
        lines = [f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message}"]
        source_line = _line_of(source, self.line)
        if source_line is not None:
            lines.append(f"  {source_line}")
            lines.append("  " + " " * (max(self.column, 1) - 1) + "^")
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)


def _line_of(source: str | None, line: int) -> str | None:
    if source is None or line < 1:
        return None
    lines = source.split("\n")  # lines as the parser counts them
    if line > len(lines):
        return None
    return lines[line - 1].expandtabs(1)


def sorted_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    return sorted(set(diagnostics), key=Diagnostic.sort_key)


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A hint naming the closest choice, or None when nothing is close."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean `{matches[0]}`?" if matches else None


class PolicyError(Exception):
    """Raised by APIs that need a valid policy; carries every diagnostic."""

    def __init__(self, diagnostics: list[Diagnostic], sources: dict[str, str] | None = None):
        self.diagnostics = diagnostics
        self.sources = sources or {}
        super().__init__("\n".join(d.render(self.sources.get(d.file)) for d in diagnostics))
