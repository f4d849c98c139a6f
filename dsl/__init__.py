"""The policy language (SPEC 2): grammar, parser, diagnostics, type checks: rota.dsl.

Knows nothing of DuckDB or of routing: text in (one file's, or a folder's
files as a PolicySource), a checked syntax tree or diagnostics out.
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
    Reassign,
    Route,
    Timeout,
    Unassign,
    Using,
)
from .checker import check
from .diagnostics import Diagnostic, PolicyError, sorted_diagnostics
from .formatter import format_policy
from .parser import ParseResult, parse
from .sources import PolicySource, as_source, parse_source
from .types import SnapshotSchema


def analyze(
    policy: str | PolicySource,
    file: str = "<policy>",
    schema: SnapshotSchema | None = None,
) -> tuple[Policy | None, list[Diagnostic]]:
    """Parse and check a text (one file named `file`) or the files of a PolicySource; the policy is None
    when there is any error (warnings do not count)."""
    parsed = parse_source(as_source(policy, file))
    if parsed.policy is None:
        return None, parsed.diagnostics
    found = [*parsed.diagnostics, *check(parsed.policy, schema)]
    diagnostics = sorted_diagnostics(found)
    return (None if any(d.is_error for d in diagnostics) else parsed.policy), diagnostics


def load_policy(
    policy: str | PolicySource,
    file: str = "<policy>",
    schema: SnapshotSchema | None = None,
) -> Policy:
    """A checked policy, or PolicyError carrying every error."""
    source = as_source(policy, file)
    checked, diagnostics = analyze(source, schema=schema)
    if checked is None:
        raise PolicyError([d for d in diagnostics if d.is_error], source.texts)
    return checked


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
    "PolicySource",
    "Position",
    "Priority",
    "Reassign",
    "Route",
    "SnapshotSchema",
    "Timeout",
    "Unassign",
    "Using",
    "analyze",
    "as_source",
    "check",
    "format_policy",
    "load_policy",
    "parse",
    "parse_source",
]
