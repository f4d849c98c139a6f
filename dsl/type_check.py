"""Scopes and types of expressions (SPEC 2.3): mismatches known when compiling are errors.

Types come from literals, built-in fields and, when a snapshot is given, its
columns; anything else (contact attributes, unknown user attributes) is
`unknown` and checked at run time, where a mismatch is simply null.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rota import diagnostics as codes
from rota import vocabulary
from rota.vocabulary import Kind as T
from rota.vocabulary import Scope

from . import ast
from .diagnostics import did_you_mean
from .types import SnapshotSchema

SCOPE_USER, SCOPE_CONTACT, SCOPE_NOW = Scope.USER.value, Scope.CONTACT.value, Scope.NOW.value


@dataclass(frozen=True)
class Type:
    base: T
    element: T | None = None  # for lists

    def __str__(self) -> str:
        names = {
            T.STRING: "a string",
            T.INT: "a number",
            T.DECIMAL: "a number",
            T.BOOL: "a true/false value",
            T.TIMESTAMP: "a time",
            T.NULL: "null",
            T.UNKNOWN: "a value",
        }
        if self.base == T.LIST:
            return "a list" if self.element in (None, T.UNKNOWN) else f"a list of {_plural(self.element)}"
        return names[self.base]


def _plural(base: T) -> str:
    return {
        T.STRING: "strings",
        T.INT: "numbers",
        T.DECIMAL: "numbers",
        T.BOOL: "true/false values",
        T.TIMESTAMP: "times",
    }.get(base, "values")


def type_of_kind(kind: T) -> Type:
    """The type of a field or column of this kind; list fields and columns hold strings."""
    return Type(T.LIST, T.STRING) if kind == T.LIST else Type(kind)


UNKNOWN, BOOL, STRING, INT, NULL = Type(T.UNKNOWN), Type(T.BOOL), Type(T.STRING), Type(T.INT), Type(T.NULL)
USER_FIELDS = {name: type_of_kind(kind) for name, kind in vocabulary.USER_FIELDS.items()}
CONTACT_FIELDS = {name: type_of_kind(kind) for name, kind in vocabulary.CONTACT_FIELDS.items()}
NOW_FIELDS = {name: type_of_kind(kind) for name, kind in vocabulary.NOW_FIELDS.items()}
NUMBERS = (T.INT, T.DECIMAL)


class TypeChecker:
    def __init__(self, schema: SnapshotSchema | None, report):
        self.schema = schema
        self.report = report

    def check_route(self, route: ast.Route) -> None:
        if route.when is not None:
            self.condition(route.when, "when", user_allowed=False)
        if isinstance(route.action, ast.AssignToUser):
            found = self.type_of(route.action.user, user_allowed=False)
            if not self._compatible(found.base, T.STRING) and found.base != T.INT:
                self.report(
                    _where(route.action.user),
                    f"`assign to user` needs a user id, but this is {found}",
                    code=codes.NOT_A_USER_ID,
                )
        for condition in route.filters:
            self.condition(condition, "only", user_allowed=True)

    def condition(self, expr: ast.Expr, context: str, user_allowed: bool) -> None:
        found = self.type_of(expr, user_allowed)
        if found.base not in (T.BOOL, T.UNKNOWN, T.NULL):
            self.report(
                _where(expr),
                f"`{context}` needs a condition, but this is {found}",
                'compare it: `open < 5`, `status == "online"`, `"vip" in contact.tags`',
                codes.NOT_A_CONDITION,
            )

    # ----------------------------------------------------------------- types

    def type_of(self, expr: ast.Expr, user_allowed: bool) -> Type:
        if isinstance(expr, ast.Literal):
            return _literal_type(expr.value)
        if isinstance(expr, ast.ListLiteral):
            return self._list_type(expr)
        if isinstance(expr, ast.Field):
            return self._field_type(expr, user_allowed)
        if isinstance(expr, ast.Not):
            self._needs_condition(expr.operand, "not", user_allowed)
            return BOOL
        if isinstance(expr, ast.BoolOp):
            self._needs_condition(expr.left, expr.operator, user_allowed)
            self._needs_condition(expr.right, expr.operator, user_allowed)
            return BOOL
        self._compare(expr, user_allowed)
        return BOOL

    def _needs_condition(self, expr: ast.Expr, word: str, user_allowed: bool) -> None:
        found = self.type_of(expr, user_allowed)
        if found.base not in (T.BOOL, T.UNKNOWN, T.NULL):
            self.report(
                _where(expr),
                f"`{word}` needs conditions on both sides, but this is {found}",
                code=codes.NOT_A_CONDITION,
            )

    def _list_type(self, expr: ast.ListLiteral) -> Type:
        kinds = {_family(_literal_type(item.value).base) for item in expr.items if item.value is not None}
        if len(kinds) > 1:
            self.report(
                expr.position, "a list mixes values of different kinds", "keep one kind per list", codes.MIXED_LIST
            )
            return Type(T.LIST, T.UNKNOWN)
        element = _literal_type(next(i.value for i in expr.items if i.value is not None)).base if kinds else T.UNKNOWN
        return Type(T.LIST, element)

    def _field_type(self, field: ast.Field, user_allowed: bool) -> Type:
        if field.scope not in ast.SCOPES:
            self.report(
                field.position,
                f"unknown scope `{field.scope}` in `{field.scope}.{field.name}`",
                did_you_mean(field.scope, ast.SCOPES) or "fields are `user.F`, `contact.F` or `now.F`",
                codes.UNKNOWN_SCOPE,
            )
            return UNKNOWN
        if field.scope == SCOPE_NOW:
            if field.name not in NOW_FIELDS:
                self.report(
                    field.position,
                    f"`now.{field.name}` is not a field of now",
                    did_you_mean(field.name, NOW_FIELDS) or "use " + _listed(NOW_FIELDS, "now."),
                    codes.UNKNOWN_FIELD,
                )
                return UNKNOWN
            return NOW_FIELDS[field.name]
        if field.scope == SCOPE_CONTACT:
            return CONTACT_FIELDS.get(field.name, UNKNOWN)
        if not user_allowed:
            self.report(
                field.position,
                f"`user.{field.name}` is not known here: a route is chosen before any user",
                "user fields belong in `only`",
                codes.USER_IN_WHEN,
            )
            return UNKNOWN
        if field.name in USER_FIELDS:
            return USER_FIELDS[field.name]
        if self.schema is None or self.schema.user_columns is None:
            return UNKNOWN
        if field.name not in self.schema.user_columns:
            known = list(USER_FIELDS) + list(self.schema.user_columns)
            self.report(
                field.position,
                f"the snapshot's users have no field `{field.name}`",
                did_you_mean(field.name, known) or "add the column to users, or fix the name",
                codes.UNKNOWN_FIELD,
            )
            return UNKNOWN
        return type_of_kind(self.schema.user_columns[field.name])

    # ------------------------------------------------------------ comparisons

    def _compare(self, expr: ast.Compare, user_allowed: bool) -> None:
        left = self.type_of(expr.left, user_allowed)
        right = self.type_of(expr.right, user_allowed)
        if expr.operator in ("in", "not in"):
            self._contains(expr, left, right)
            return
        if NULL in (left, right):
            if expr.operator not in ("==", "!="):
                self.report(
                    expr.position,
                    f"`{expr.operator} null` is never true",
                    "test for null with `== null`",
                    codes.NEVER_TRUE,
                )
            return
        if T.LIST in (left.base, right.base):
            self.report(
                expr.position,
                f"lists cannot be compared with `{expr.operator}`",
                "test membership with `in`",
                codes.LIST_COMPARED,
            )
            return
        if not self._compatible(left.base, right.base) and not self._timestamp_text(expr, left, right):
            self.report(expr.position, f"cannot compare {left} with {right}", code=codes.TYPE_MISMATCH)
            return
        if expr.operator not in ("==", "!=") and T.BOOL in (left.base, right.base):
            self.report(expr.position, "true/false values have no order; use `==` or `!=`", code=codes.UNORDERED)
        self._known_values(expr)

    def _contains(self, expr: ast.Compare, item: Type, items: Type) -> None:
        if items.base in (T.UNKNOWN, T.NULL) or item.base == T.NULL:
            return
        if items.base != T.LIST:
            self.report(
                expr.position,
                f"`{expr.operator}` needs a list on its right, but this is {items}",
                'write a list `["a", "b"]` or a list field such as `teams`',
                codes.NOT_A_LIST,
            )
            return
        if item.base == T.LIST:
            self.report(expr.position, "a list cannot be found in a list", code=codes.LIST_COMPARED)
        elif items.element not in (None, T.UNKNOWN) and not self._compatible(item.base, items.element):
            self.report(expr.position, f"{item} is never in {items}", code=codes.TYPE_MISMATCH)

    @staticmethod
    def _compatible(one: T, other: T) -> bool:
        return T.UNKNOWN in (one, other) or _family(one) == _family(other)

    def _timestamp_text(self, expr: ast.Compare, left: Type, right: Type) -> bool:
        """A string literal may stand for a time; it must read as one."""
        for side, other in ((expr.left, right), (expr.right, left)):
            if isinstance(side, ast.Literal) and isinstance(side.value, str) and other.base == T.TIMESTAMP:
                try:
                    datetime.fromisoformat(side.value.replace("Z", "+00:00"))
                    return True
                except ValueError:
                    self.report(
                        side.position,
                        f"`{side.value}` is not a time",
                        'write times as ISO 8601: "2026-11-25T09:00:00Z"',
                        codes.NOT_A_TIME,
                    )
                    return True
        return False

    def _known_values(self, expr: ast.Compare) -> None:
        """`status == "onlin"` and `now.weekday == "monday"` can never hold."""
        for field, other in ((expr.left, expr.right), (expr.right, expr.left)):
            if not (isinstance(field, ast.Field) and isinstance(other, ast.Literal) and isinstance(other.value, str)):
                continue
            allowed = vocabulary.CLOSED_VALUES.get((field.scope, field.name))
            if allowed and other.value not in allowed and expr.operator in ("==", "!="):
                self.report(
                    other.position,
                    f"`{field.scope}.{field.name}` is never `{other.value}`",
                    did_you_mean(other.value, allowed) or "one of " + ", ".join(allowed),
                    codes.UNKNOWN_VALUE,
                )


def _family(base: T) -> T:
    return T.DECIMAL if base in NUMBERS else base


def _literal_type(value) -> Type:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT
    if isinstance(value, float):
        return Type(T.DECIMAL)
    return STRING


def _where(expr: ast.Expr) -> ast.Position:
    return expr.position


def _listed(names, prefix: str) -> str:
    """`now.hour`, `now.minute` or `now.weekday`."""
    quoted = [f"`{prefix}{name}`" for name in names]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]
