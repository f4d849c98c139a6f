"""`rota fmt`: the canonical text of a policy, with its comments kept.

Canonical: `timezone` first, then one route after another with a blank line
between them; inside a route the action, then `using`, the `only`s, `priority`,
`timeout` and the `reassign`s (`unanswered`, then `away`), one per line,
indented two spaces. Expressions get the fewest
parentheses that keep their meaning; in `only`, user fields are written bare
(`only online`), everything else qualified (`contact.tags`, `now.hour`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rota.vocabulary import Scope

from . import ast
from .syntax_errors import KEYWORDS

RESERVED = frozenset(KEYWORDS.values())
PRECEDENCE_OR, PRECEDENCE_AND, PRECEDENCE_NOT, PRECEDENCE_COMPARE, PRECEDENCE_PRIMARY = 1, 2, 3, 4, 5
UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


@dataclass
class _Line:
    source_line: int
    indent: str
    text: str
    trailing: str = ""


def format_policy(policy: ast.Policy) -> str:
    lines: list[_Line | None] = []  # None is a blank line
    if policy.timezone is not None:
        lines.append(_Line(policy.timezone_position.line, "", f"timezone {format_string(policy.timezone)}"))
    for route in policy.routes:
        if lines:
            lines.append(None)
        lines.extend(_route_lines(route))
    return _render(_place_comments(lines, policy.comments))


def _route_lines(route: ast.Route) -> list[_Line]:
    header = f"route {route.name}"
    if route.when is not None:
        header += " when " + format_expression(route.when, bare_scope=None)
    lines = [
        _Line(route.position.line, "", header + " {"),
        _Line(route.action.position.line, "  ", _action(route.action)),
    ]
    lines += [_Line(option.position.line, "  ", _option(option)) for option in route.options]
    lines.append(_Line(route.position.end_line or route.position.line, "", "}"))
    return lines


def _action(action: ast.Action) -> str:
    if isinstance(action, ast.AssignToUser):
        return "assign to user " + format_expression(action.user, bare_scope=None)
    if isinstance(action, ast.AssignToTeam):
        return "assign to team " + format_string(action.team)
    if isinstance(action, ast.AssignToSpace):
        return "assign to space"
    return "unassign"


def _option(option: ast.Option) -> str:
    if isinstance(option, ast.Using):
        return f"using {option.logic}"
    if isinstance(option, ast.Only):
        return "only " + format_expression(option.condition, bare_scope=Scope.USER.value)
    if isinstance(option, ast.Priority):
        return f"priority {option.value}"
    branch = f" -> {option.branch}" if option.branch is not None else ""
    if isinstance(option, ast.Reassign):
        return f"reassign when {option.trigger} {format_duration(option.seconds)}{branch}"
    return f"timeout {format_duration(option.seconds)}{branch}"


# ---------------------------------------------------------------- comments


def _place_comments(lines: list[_Line | None], comments: tuple[ast.Comment, ...]) -> list[_Line | None]:
    """Own-line comments go before the first item written after them, at its indent;
    trailing ones after the last item that starts on or before their line."""
    placed: list[_Line | None] = list(lines)
    for comment in sorted(comments, key=lambda c: (c.line, c.column), reverse=True):
        items = [(index, line) for index, line in enumerate(placed) if line is not None and line.source_line]
        if comment.trailing:
            before = [pair for pair in items if pair[1].source_line <= comment.line]
            if before:
                line = before[-1][1]
                line.trailing = f"  {comment.text}" + line.trailing
                continue
        after = [pair for pair in items if pair[1].source_line > comment.line]
        if after:
            index, line = after[0]
            while index > 0 and (previous := placed[index - 1]) is not None and previous.source_line == 0:
                index -= 1  # keep earlier comments of the same block above this one
            placed.insert(index, _Line(0, line.indent, comment.text))
        else:
            placed.append(_Line(0, "", comment.text))
    return placed


def _render(lines: list[_Line | None]) -> str:
    text = "\n".join("" if line is None else f"{line.indent}{line.text}{line.trailing}" for line in lines)
    return text.strip("\n") + "\n" if text.strip() else ""


# ------------------------------------------------------------- expressions


def format_expression(expr: ast.Expr, bare_scope: str | None) -> str:
    return _expression(expr, bare_scope)


def _precedence(expr: ast.Expr) -> int:
    if isinstance(expr, ast.BoolOp):
        return PRECEDENCE_OR if expr.operator == "or" else PRECEDENCE_AND
    if isinstance(expr, ast.Not):
        return PRECEDENCE_NOT
    if isinstance(expr, ast.Compare):
        return PRECEDENCE_COMPARE
    return PRECEDENCE_PRIMARY


def _wrapped(expr: ast.Expr, bare_scope: str | None, at_least: int) -> str:
    text = _expression(expr, bare_scope)
    return f"({text})" if _precedence(expr) < at_least else text


def _expression(expr: ast.Expr, bare_scope: str | None) -> str:
    if isinstance(expr, ast.Literal):
        return format_literal(expr.value)
    if isinstance(expr, ast.ListLiteral):
        return "[" + ", ".join(format_literal(item.value) for item in expr.items) + "]"
    if isinstance(expr, ast.Field):
        bare = expr.scope == bare_scope and expr.name not in RESERVED and expr.name not in ast.SCOPES
        return expr.name if bare else f"{expr.scope}.{expr.name}"
    if isinstance(expr, ast.Not):
        return "not " + _wrapped(expr.operand, bare_scope, PRECEDENCE_NOT)
    level = _precedence(expr)
    if isinstance(expr, ast.BoolOp):
        left = _wrapped(expr.left, bare_scope, level)
        right = _wrapped(expr.right, bare_scope, level + 1)
        return f"{left} {expr.operator} {right}"
    left = _wrapped(expr.left, bare_scope, PRECEDENCE_PRIMARY)
    right = _wrapped(expr.right, bare_scope, PRECEDENCE_PRIMARY)
    return f"{left} {expr.operator} {right}"


def format_literal(value) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return format_string(value)
    if isinstance(value, float):
        text = format(Decimal(repr(value)), "f")  # the shortest exact digits, never an exponent
        return text if "." in text else text + ".0"
    return str(value)


def format_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def format_duration(seconds: int) -> str:
    parts = []
    for unit, size in UNITS:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
