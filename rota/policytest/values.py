"""Reading the values of a test file, each kind with its own words for what is wrong and where.

`ValueReader` is what the format's reader (cases.py) stands on: every problem goes to its
`Problems`, at the place of the value, and reading carries on past it so that one run reports
them all.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from rota.diagnostics import TEST_BAD_VALUE, TEST_DUPLICATE, TEST_MISSING_KEY, TEST_UNKNOWN_KEY
from rota.dsl.parser import written_duration
from rota.engine import parse_instant
from rota.engine.clock import to_utc

from .yaml_nodes import Node, Problems


class ValueReader:
    """Reads one value of a kind, or reports why it is not one and gives a harmless stand-in."""

    def __init__(self, problems: Problems, zone: ZoneInfo | None):
        self.problems = problems
        self.zone = zone  # the policy's timezone: times without a zone are read in it

    def mapping(
        self, node: Node | None, allowed: tuple[str, ...], what: str, required: tuple[str, ...] = ()
    ) -> dict[str, Node] | None:
        if node is None or not node.is_mapping:
            self.problems.add(node, f"{what} must be a mapping of keys to values", TEST_BAD_VALUE)
            return None
        keys: dict[str, Node] = {}
        for key, value in node.items():
            name = key.value()
            if name not in allowed:
                self.problems.add(key, f"{what} has no key {name!r}", TEST_UNKNOWN_KEY, f"use {listed(allowed)}")
            elif name in keys:
                self.problems.add(key, f"`{name}` is given twice", TEST_DUPLICATE)
            else:
                keys[name] = value
        for name in required:
            if name not in keys:
                self.problems.add(node, f"{what} needs `{name}`", TEST_MISSING_KEY)
        return keys if all(name in keys for name in required) else None

    def pairs(self, node: Node | None, what: str) -> list[tuple[str, Node]]:
        if node is None:
            return []
        if not node.is_mapping:
            self.problems.add(node, f"{what} must be a mapping", TEST_BAD_VALUE)
            return []
        return [(str(key.value()), value) for key, value in node.items()]

    def elements(self, node: Node | None, what: str) -> list[Node]:
        if node is None:
            return []
        if not node.is_list:
            self.problems.add(node, f"{what} must be a list (items starting with `- `)", TEST_BAD_VALUE)
            return []
        return node.elements()

    def text(self, node: Node | None, what: str) -> str | None:
        value = None if node is None else node.value()
        if not isinstance(value, str):
            self.problems.add(node, f"{what} must be text", TEST_BAD_VALUE)
            return None
        return value

    def identifier(self, node: Node, what: str) -> str:
        """An id: text, or a whole number read as its digits."""
        value = node.value()
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str) or not value:
            self.problems.add(node, f"{what} must be an id (text)", TEST_BAD_VALUE)
            return ""
        return value

    def texts(self, node: Node, what: str) -> list[str]:
        return [self.identifier(item, f"each of {what}") for item in self.elements(node, what)]

    def boolean(self, node: Node, what: str) -> bool:
        value = node.value()
        if not isinstance(value, bool):
            self.problems.add(node, f"{what} must be true or false", TEST_BAD_VALUE)
            return False
        return value

    def count(self, node: Node, what: str) -> int:
        value = node.value()
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            self.problems.add(node, f"{what} must be a whole number, 0 or more", TEST_BAD_VALUE)
            return 0
        return value

    def one_of(self, node: Node, choices: tuple[str, ...], what: str) -> str | None:
        value = node.value()
        if value not in choices:
            self.problems.add(node, f"unknown {what} {value!r}", TEST_BAD_VALUE, f"use {listed(choices)}")
            return None
        return value

    def time(self, node: Node, start: datetime | None) -> datetime | None:
        """An ISO 8601 time (no zone: the policy's timezone), or with a case's clock `start`, `+DURATION`."""
        value = node.value()
        text = value.strip() if isinstance(value, str) else ""
        if start is not None and text.startswith("+"):
            seconds = written_duration(text[1:])
            if seconds is not None:
                return start + timedelta(seconds=seconds)
        else:
            moment = _instant(text, self.zone)
            if moment is not None:
                return moment
        relative = " or `+DURATION` after the case's clock (`+30m`, `+1h30m`)" if start is not None else ""
        self.problems.add(
            node,
            f"{value!r} is not a time",
            TEST_BAD_VALUE,
            f"write `2026-11-25 11:00` (the policy's timezone){relative}",
        )
        return None


def _instant(text: str, zone: ZoneInfo | None) -> datetime | None:
    """ISO 8601 as naive UTC; without a zone, the time is read in `zone` (UTC when None)."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None and zone is not None:
        return to_utc(moment.replace(tzinfo=zone))
    return parse_instant(moment.isoformat())


def listed(choices: tuple[str, ...]) -> str:
    return ", ".join(f"`{choice}`" for choice in choices)
