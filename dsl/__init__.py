"""The policy language (SPEC 2): grammar, parser, diagnostics, type checks: rota.dsl.

Knows nothing of DuckDB or of routing: text in, a checked syntax tree or
diagnostics out.
"""

from .ast import (
    AssignToSpace,
    AssignToTeam,
    AssignToUser,
    BoolOp,
    Comment,
    Compare,
    Expr,
    Field,
    ListLiteral,
    Literal,
    Not,
    Only,
    Policy,
    Position,
    Priority,
    Route,
    Timeout,
    Unassign,
    Using,
)
from .checker import check
from .diagnostics import Diagnostic, PolicyError
from .formatter import format_policy
from .parser import ParseResult, parse
from .types import SnapshotSchema, ValueType


def analyze(
    text: str, file: str = "<policy>", schema: SnapshotSchema | None = None
) -> tuple[Policy | None, list[Diagnostic]]:
    """Parse and check; the policy is None when there is any error (warnings do not count)."""
    parsed = parse(text, file)
    if parsed.policy is None:
        return None, parsed.diagnostics
    diagnostics = check(parsed.policy, schema)
    return (None if any(d.is_error for d in diagnostics) else parsed.policy), diagnostics


def load_policy(text: str, file: str = "<policy>", schema: SnapshotSchema | None = None) -> Policy:
    """A checked policy, or PolicyError carrying every error."""
    policy, diagnostics = analyze(text, file, schema)
    if policy is None:
        raise PolicyError([d for d in diagnostics if d.is_error], {file: text})
    return policy


__all__ = [
    "AssignToSpace",
    "AssignToTeam",
    "AssignToUser",
    "BoolOp",
    "Comment",
    "Compare",
    "Diagnostic",
    "Expr",
    "Field",
    "ListLiteral",
    "Literal",
    "Not",
    "Only",
    "ParseResult",
    "Policy",
    "PolicyError",
    "Position",
    "Priority",
    "Route",
    "SnapshotSchema",
    "Timeout",
    "Unassign",
    "Using",
    "ValueType",
    "analyze",
    "check",
    "format_policy",
    "load_policy",
    "parse",
]
