"""Reading a test file's YAML with the place of every value (PyYAML's composed nodes keep their marks).

Scalars are read by YAML 1.2's core rules rather than PyYAML's 1.1 ones, so what an ops lead
writes means what it looks like: `no` (Norwegian) and `on` stay text, `10:30` is not the number
630, and a time stays text until the format reads it in the policy's timezone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from rota.diagnostics import Code, Diagnostic

BOOL_TAG, INT_TAG, FLOAT_TAG = "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
# YAML 1.1 resolvers PyYAML has that the core schema does not (yes/no, sexagesimals, timestamps, ...).
_REPLACED_TAGS = {BOOL_TAG, INT_TAG, FLOAT_TAG, "tag:yaml.org,2002:timestamp"}


class _CoreSchemaLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core scalars: true/false, decimal integers and floats, null."""


_CoreSchemaLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag not in _REPLACED_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_CoreSchemaLoader.add_implicit_resolver(BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_CoreSchemaLoader.add_implicit_resolver(INT_TAG, re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789"))
_CoreSchemaLoader.add_implicit_resolver(
    FLOAT_TAG, re.compile(r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$"), list("-+0123456789.")
)


class Problems:
    """Every problem found in one test file, each with its place; reported all at once."""

    def __init__(self, file: str):
        self.file = file
        self.found: list[Diagnostic] = []

    def add(self, node: Node | None, message: str, code: Code, hint: str | None = None) -> None:
        line, column = (node.line, node.column) if node is not None else (0, 0)
        self.found.append(Diagnostic(self.file, line, column, message, hint, code=code))


@dataclass(frozen=True)
class Node:
    """One YAML value and where it is written (1-based line and column)."""

    raw: yaml.Node
    loader: _CoreSchemaLoader

    @property
    def line(self) -> int:
        return self.raw.start_mark.line + 1

    @property
    def column(self) -> int:
        return self.raw.start_mark.column + 1

    @property
    def is_mapping(self) -> bool:
        return isinstance(self.raw, yaml.MappingNode)

    @property
    def is_list(self) -> bool:
        return isinstance(self.raw, yaml.SequenceNode)

    @property
    def is_scalar(self) -> bool:
        return isinstance(self.raw, yaml.ScalarNode)

    def value(self) -> Any:
        """The plain Python value (text, number, true/false, null, lists and mappings of them)."""
        return self.loader.construct_object(self.raw, deep=True)

    def items(self) -> Iterator[tuple[Node, Node]]:
        """A mapping's (key, value) nodes, in the order written."""
        for key, value in self.raw.value:
            yield Node(key, self.loader), Node(value, self.loader)

    def elements(self) -> list[Node]:
        return [Node(item, self.loader) for item in self.raw.value]


class NotYaml(Exception):
    """The text is not YAML; `line` and `column` are where the reader stopped (1-based)."""

    def __init__(self, line: int, column: int):
        super().__init__(f"not YAML at {line}:{column}")
        self.line, self.column = line, column


def read_yaml(text: str) -> Node | None:
    """The document's root node (None for an empty file); NotYaml says where the text stops being YAML."""
    loader = _CoreSchemaLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        raise NotYaml(mark.line + 1 if mark else 0, mark.column + 1 if mark else 0) from None
    except yaml.YAMLError:  # e.g. a second document: the place is the whole file
        raise NotYaml(0, 0) from None
    return None if root is None else Node(root, loader)
