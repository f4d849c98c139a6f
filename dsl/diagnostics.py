"""Problems found in a policy: the shared `Diagnostic` value (rota.diagnostics) and the language's helpers.

Every stage of the checker returns diagnostics instead of raising; APIs that
need a valid policy raise PolicyError carrying them all.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from rota.diagnostics import ERROR, WARNING, Code, Diagnostic, Severity, sorted_diagnostics

__all__ = ["ERROR", "WARNING", "Code", "Diagnostic", "PolicyError", "Severity", "did_you_mean", "sorted_diagnostics"]


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
