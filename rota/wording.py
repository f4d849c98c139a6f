"""How the command line says a count: "1 decision", "2 decisions", "1,204 contacts"."""

from __future__ import annotations


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """The count (with thousands separators) and the noun, singular for exactly one.

    `nouns` is the plural when it is not the noun with an `s` ("1 reply", "2 replies")."""
    return f"{count:,} {noun if count == 1 else nouns or noun + 's'}"
