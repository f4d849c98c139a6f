"""Text to syntax tree: the Lark grammar, a Transformer to the AST, and syntax
errors said in the user's words.

`parse` never raises: whatever the text, it returns a ParseResult holding a
Policy or the diagnostics that explain why there is none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from lark import Lark, Token, Transformer, Tree, v_args

from rota.diagnostics import SYNTAX, TOO_LARGE

from . import ast
from .diagnostics import Diagnostic
from .recovery import parse_tokens, read_tokens

MAX_FILE_BYTES = 1024 * 1024
MAX_NESTING = 64
MAX_LIST_ITEMS = 1000
MAX_ROUTES = 1000
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

_GRAMMAR = (Path(__file__).parent / "grammar.lark").read_text()
_PARSER = Lark(
    _GRAMMAR, parser="lalr", lexer="basic", propagate_positions=True, maybe_placeholders=True, cache=True
)  # the parse tables, kept in the temp dir: a faster start


@dataclass(frozen=True)
class ParseResult:
    policy: ast.Policy | None
    diagnostics: list[Diagnostic] = field(default_factory=list)


class _Problem(Exception):
    def __init__(self, line: int, column: int, message: str):
        self.line, self.column, self.message = line, column, message


def parse(text: str, file: str = "<policy>") -> ParseResult:
    if len(text.encode("utf-8", errors="replace")) > MAX_FILE_BYTES:
        return _failed(file, 1, 1, f"the file is larger than {MAX_FILE_BYTES // 1024} KiB; split the policy")
    tokens, unreadable = read_tokens(_PARSER, text)
    tree, diagnostics = parse_tokens(_PARSER, tokens, unreadable, file)
    if tree is None:
        return ParseResult(None, diagnostics)
    try:
        _check_parentheses(tokens)
        _check_limits(tree)
    except _Problem as error:
        return _failed(file, error.line, error.column, error.message)
    builder = _ToAst(file)
    policy = builder.transform(tree)
    if builder.problems:
        return ParseResult(None, builder.problems)
    return ParseResult(replace(policy, file=file, comments=_comments(text, tokens)))


def _failed(file: str, line: int, column: int, message: str) -> ParseResult:
    return ParseResult(None, [Diagnostic(file, line, column, message, code=TOO_LARGE)])


def _check_parentheses(tokens: list[Token]) -> None:
    depth = 0
    for token in tokens:
        depth += {"_LPAR": 1, "_RPAR": -1}.get(token.type, 0)
        if depth > MAX_NESTING:
            assert token.line is not None and token.column is not None  # the lexer's tokens have a position
            raise _Problem(token.line, token.column, f"parentheses nested more than {MAX_NESTING} deep; simplify it")


def _comments(text: str, tokens: list[Token]) -> tuple[ast.Comment, ...]:
    """The comments (the grammar ignores them), kept for `rota fmt`."""
    code_lines = {token.line for token in tokens}
    comments = []
    for line_number, line in enumerate(text.split("\n"), 1):  # lines as Lark counts them
        position = _comment_start(line)
        if position is not None:
            comments.append(
                ast.Comment(line[position:].rstrip(), line_number, position + 1, trailing=line_number in code_lines)
            )
    return tuple(comments)


def _comment_start(line: str) -> int | None:
    """Where a `#` outside a string starts, if any."""
    in_string = escaped = False
    for index, character in enumerate(line):
        if in_string:
            if escaped:
                escaped = False
            elif character == "\\":
                escaped = True
            elif character == '"':
                in_string = False
        elif character == '"':
            in_string = True
        elif character == "#":
            return index
    return None


def _check_limits(tree: Tree) -> None:
    """Deep nesting and long lists are refused before anything recurses over them."""
    depth: dict[int, int] = {}
    for subtree in tree.iter_subtrees():  # bottom-up, iterative
        below = [depth[id(child)] for child in subtree.children if isinstance(child, Tree)]
        depth[id(subtree)] = 1 + max(below, default=0)
        line, column = getattr(subtree.meta, "line", 1), getattr(subtree.meta, "column", 1)
        if depth[id(subtree)] > MAX_NESTING + 8:
            raise _Problem(line, column, f"expression nested more than {MAX_NESTING} deep; simplify it")
        if subtree.data == "list" and len(subtree.children) > MAX_LIST_ITEMS:
            raise _Problem(line, column, f"list longer than {MAX_LIST_ITEMS} items")
    if tree.data == "start" and sum(1 for c in tree.children if isinstance(c, Tree) and c.data == "route") > MAX_ROUTES:
        raise _Problem(1, 1, f"more than {MAX_ROUTES} routes; split the policy")


def written_duration(text: str) -> int | None:
    """The seconds of a duration written as the language writes them (`90s`, `1d12h`); None when `text`
    is not one, or is zero."""
    text = text.strip()
    if not re.fullmatch(r"([0-9]+[smhd])+", text):
        return None
    return duration_seconds(text) or None


def duration_seconds(text: str) -> int:
    total, number = 0, ""
    for character in text:
        if character.isdigit():
            number += character
        else:
            total += int(number) * UNITS[character]
            number = ""
    return total


def _string_value(token: Token) -> str:
    """The string a literal stands for; escapes \\" \\\\ \\n \\t (others kept as written)."""
    body = token[1:-1]
    out, index = [], 0
    while index < len(body):
        if body[index] == "\\" and index + 1 < len(body):
            following = body[index + 1]
            out.append({"n": "\n", "t": "\t", '"': '"', "\\": "\\"}.get(following, "\\" + following))
            index += 2
        else:
            out.append(body[index])
            index += 1
    return "".join(out)


@v_args(meta=True)
class _ToAst(Transformer):
    """Builds the AST; bare field names stay scope-less until their route says where they live.

    Every position names the file; problems only seen here (a priority of `1.5`) are collected."""

    def __init__(self, file: str):
        super().__init__()
        self.file = file
        self.problems: list[Diagnostic] = []

    def _at(self, meta) -> ast.Position:
        return ast.Position(meta.line, meta.column, meta.end_line, meta.end_column, self.file)

    def _at_token(self, token: Token) -> ast.Position:
        line, column, end_line, end_column = token.line, token.column, token.end_line, token.end_column
        # lark types a token's position optional; with propagate_positions, the lexer's tokens have all of it
        assert line is not None and column is not None and end_line is not None and end_column is not None
        return ast.Position(line, column, end_line, end_column, self.file)

    def start(self, meta, children):
        timezone = next((child for child in children if isinstance(child, tuple)), None)
        routes = tuple(child for child in children if isinstance(child, ast.Route))
        if timezone is None:
            return ast.Policy(routes=routes)
        return ast.Policy(routes=routes, timezone=timezone[0], timezone_position=timezone[1])

    def timezone(self, meta, children):
        return (_string_value(children[0]), self._at_token(children[0]))

    def route(self, meta, children):
        name, when, action, *options = children
        if when is not None:
            when = _with_scope(when, "contact")
        if isinstance(action, ast.AssignToUser):
            action = replace(action, user=_with_scope(action.user, "contact"))
        options = [
            replace(o, condition=_with_scope(o.condition, "user")) if isinstance(o, ast.Only) else o for o in options
        ]
        options.sort(key=ast.option_order)
        return ast.Route(str(name), when, action, tuple(options), self._at(meta), self._at_token(name))

    def when(self, meta, children):
        return children[0]

    def assign_user(self, meta, children):
        return ast.AssignToUser(children[0], self._at(meta))

    def assign_team(self, meta, children):
        return ast.AssignToTeam(_string_value(children[0]), self._at(meta))

    def assign_space(self, meta, children):
        return ast.AssignToSpace(self._at(meta))

    def unassign(self, meta, children):
        return ast.Unassign(self._at(meta))

    def using(self, meta, children):
        return ast.Using(str(children[1]), self._at(meta))

    def only(self, meta, children):
        return ast.Only(children[1], self._at(meta))

    def priority(self, meta, children):
        value = children[1]
        if "." in value:
            place = self._at_token(value)
            message = f"priority must be a whole number, not `{value}`"
            self.problems.append(
                Diagnostic(
                    self.file,
                    place.line,
                    place.column,
                    message,
                    code=SYNTAX,
                    end_line=place.end_line,
                    end_column=place.end_column,
                )
            )
            return ast.Priority(0, self._at(meta))
        return ast.Priority(int(value), self._at(meta))

    def timeout(self, meta, children):
        branch = children[2]
        branch_position = self._at_token(branch) if branch is not None else ast.NOWHERE
        return ast.Timeout(
            duration_seconds(children[1]), str(branch) if branch is not None else None, self._at(meta), branch_position
        )

    def reassign(self, meta, children):
        _, trigger, duration, branch = children
        branch_position = self._at_token(branch) if branch is not None else ast.NOWHERE
        return ast.Reassign(
            str(trigger),
            duration_seconds(duration),
            str(branch) if branch is not None else None,
            self._at(meta),
            branch_position,
        )

    def trigger(self, meta, children):
        return children[0]

    def branch(self, meta, children):
        return children[0]

    # ------------------------------------------------------------ expressions

    def or_(self, meta, children):
        return ast.BoolOp("or", children[0], children[1], self._at(meta))

    def and_(self, meta, children):
        return ast.BoolOp("and", children[0], children[1], self._at(meta))

    def not_(self, meta, children):
        return ast.Not(children[1], self._at(meta))

    def compare(self, meta, children):
        return ast.Compare(str(children[1]), children[0], children[2], self._at(meta))

    def in_(self, meta, children):
        return ast.Compare("in", children[0], children[1], self._at(meta))

    def not_in(self, meta, children):
        return ast.Compare("not in", children[0], children[2], self._at(meta))

    def string(self, meta, children):
        return ast.Literal(_string_value(children[0]), self._at(meta))

    def number(self, meta, children):
        return ast.Literal(_number(children[0]), self._at(meta))

    def true(self, meta, children):
        return ast.Literal(True, self._at(meta))

    def false(self, meta, children):
        return ast.Literal(False, self._at(meta))

    def null(self, meta, children):
        return ast.Literal(None, self._at(meta))

    def list(self, meta, children):
        return ast.ListLiteral(tuple(child for child in children if child is not None), self._at(meta))

    def bare_field(self, meta, children):
        return ast.Field("", str(children[0]), self._at(meta))

    def scoped_field(self, meta, children):
        scope = str(children[0]) if len(children) == 2 else "user"
        return ast.Field(scope, str(children[-1]), self._at(meta))

    def attribute(self, meta, children):
        return children[0]


def _number(token: str) -> int | float:
    return float(token) if "." in token else int(token)


def _with_scope(expr: ast.Expr, scope: str) -> ast.Expr:
    """Give bare fields their context's scope (SPEC 2.3)."""
    if isinstance(expr, ast.Field):
        return replace(expr, scope=scope) if expr.scope == "" else expr
    if isinstance(expr, ast.Not):
        return replace(expr, operand=_with_scope(expr.operand, scope))
    if isinstance(expr, (ast.BoolOp, ast.Compare)):
        return replace(expr, left=_with_scope(expr.left, scope), right=_with_scope(expr.right, scope))
    return expr
