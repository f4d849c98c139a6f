"""Expressions compiled to DuckDB SQL, with every literal a bound parameter.

No text from a policy is ever pasted into SQL: literals and `now.*` values
become `$n` parameters, and field names become quoted identifiers of columns
the engine itself looked up. The result agrees with evaluate.py value for
value (a hypothesis property checks it): values of different kinds compare
as null, `in` is null when either side is null, and logic is Kleene.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rota.dsl.ast import BoolOp, Compare, Expr, Field, ListLiteral, Literal, Not
from rota.vocabulary import USER_FIELD_COLUMNS, USER_FIELDS, USER_TEAMS_COLUMN, Kind, Scope, Status, UserField

from .evaluate import parse_timestamp, value_kind

NULL = "NULL"
# Columns whose values keep kinds of their own (or none SQL knows): read by the Python evaluator.
UNCOMPILABLE_KINDS = frozenset({"other", "list:other", "json", "list:json"})
_PARAMETER = re.compile(r"\$(\d+)")


class NotCompilable(Exception):
    """The expression reads a value whose kind SQL cannot match Python on."""


@dataclass
class SqlScope:
    """Where fields live: table aliases and the kind of every column.

    Kinds are `string`, `number`, `bool`, `timestamp`, `null`, `list:<kind>`, `json` (a column whose
    values have no single kind: storage.kinds) or `other`.
    """

    user_alias: str | None = "u"
    user_kinds: Mapping[str, str] = field(default_factory=dict)
    contact_alias: str | None = None
    contact_kinds: Mapping[str, str] = field(default_factory=dict)
    now: Mapping[str, Any] = field(default_factory=dict)


# The comparison family SQL gives each kind of built-in field (numbers compare with numbers of any kind).
SQL_KINDS = {
    Kind.STRING: "string",
    Kind.INT: "number",
    Kind.DECIMAL: "number",
    Kind.BOOL: "bool",
    Kind.TIMESTAMP: "timestamp",
    Kind.LIST: "list:string",
}
# The column of the users view behind each built-in user field, and its family (`online` is read from status).
BUILT_IN_USER_COLUMNS = {
    name: (column, SQL_KINDS[USER_FIELDS[name]])
    for name, column in {**USER_FIELD_COLUMNS, UserField.TEAMS.value: USER_TEAMS_COLUMN}.items()
}


def kind_of_duckdb_type(type_name: str) -> str:
    name = type_name.upper()
    if name.endswith("[]"):
        return "list:" + kind_of_duckdb_type(name[:-2])
    if name in ("VARCHAR", "TEXT", "STRING"):
        return "string"
    if name == "JSON":
        return "json"
    if name in ("BOOLEAN", "BOOL"):
        return "bool"
    if name.startswith(("TIMESTAMP", "DATE")):
        return "timestamp"
    if name in (
        "TINYINT",
        "SMALLINT",
        "INTEGER",
        "BIGINT",
        "HUGEINT",
        "UTINYINT",
        "USMALLINT",
        "UINTEGER",
        "UBIGINT",
        "FLOAT",
        "DOUBLE",
        "REAL",
    ) or name.startswith("DECIMAL"):
        return "number"
    return "other"


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class SqlCompiler:
    """Builds one SQL text and its parameter list; call `condition` or `value`."""

    def __init__(self, scope: SqlScope, parameters: list[Any] | None = None):
        self.scope = scope
        self.parameters = parameters if parameters is not None else []

    def bind(self, value: Any) -> str:
        self.parameters.append(value)
        return f"${len(self.parameters)}"

    def statement(self, sql: str) -> tuple[str, list[Any]]:
        """The finished SQL and its parameters, renumbered to the ones it uses
        (a comparison folded to NULL drops the values it had bound)."""
        used: dict[int, int] = {}

        def renumber(match: re.Match) -> str:
            number = int(match.group(1))
            used.setdefault(number, len(used) + 1)
            return f"${used[number]}"

        text = _PARAMETER.sub(renumber, sql)
        parameters = [None] * len(used)
        for number, new_number in used.items():
            parameters[new_number - 1] = self.parameters[number - 1]
        return text, parameters

    def condition(self, expr: Expr) -> str:
        """A `when`/`only`: true, never null."""
        sql, kind = self.value(expr)
        if kind not in ("bool", "null"):
            return "FALSE"
        return f"(({sql}) IS TRUE)"

    def value(self, expr: Expr) -> tuple[str, str]:
        if isinstance(expr, Literal):
            return self._literal(expr.value)
        if isinstance(expr, ListLiteral):
            kinds = {value_kind(item.value) for item in expr.items if item.value is not None}
            element = kinds.pop() if len(kinds) == 1 else "other"
            items = ", ".join(self._literal(item.value)[0] for item in expr.items)
            return f"list_value({items})", f"list:{element}"
        if isinstance(expr, Field):
            return self._field(expr)
        if isinstance(expr, Not):
            return f"(NOT {self._boolean(expr.operand)})", "bool"
        if isinstance(expr, BoolOp):
            word = "AND" if expr.operator == "and" else "OR"
            return f"({self._boolean(expr.left)} {word} {self._boolean(expr.right)})", "bool"
        if isinstance(expr, Compare):
            return self._compare(expr), "bool"
        raise NotCompilable(f"not an expression: {expr!r}")

    def _literal(self, value: Any) -> tuple[str, str]:
        if value is None:
            return NULL, "null"
        kind = value_kind(value)
        assert kind is not None  # only null has no kind
        return self.bind(value), kind

    def _boolean(self, expr: Expr) -> str:
        sql, kind = self.value(expr)
        return sql if kind == "bool" else "CAST(NULL AS BOOLEAN)"

    def _field(self, expr: Field) -> tuple[str, str]:
        scope = self.scope
        if expr.scope == Scope.NOW:
            return self._literal(scope.now.get(expr.name))
        if expr.scope == Scope.CONTACT:
            kind = scope.contact_kinds.get(expr.name)
            if scope.contact_alias is None:
                raise NotCompilable(f"contact.{expr.name} has no column here")
            if kind is None:
                return NULL, "null"
            return self._column(scope.contact_alias, expr.name, kind)
        if scope.user_alias is None:
            raise NotCompilable(f"user.{expr.name} has no column here")
        if expr.name == UserField.ONLINE:
            status = f"{scope.user_alias}.{quote_identifier(BUILT_IN_USER_COLUMNS[UserField.STATUS.value][0])}"
            online = self.bind(Status.ONLINE.value)
            return f"(CASE WHEN {status} IS NULL THEN NULL ELSE {status} = {online} END)", "bool"
        column, kind = BUILT_IN_USER_COLUMNS.get(expr.name, (expr.name, scope.user_kinds.get(expr.name)))
        if kind is None:
            return NULL, "null"
        return self._column(scope.user_alias, column, kind)

    def _column(self, alias: str, column: str, kind: str) -> tuple[str, str]:
        if kind in UNCOMPILABLE_KINDS:
            raise NotCompilable(f"column {column} holds values SQL cannot compare like Python")
        return f"{alias}.{quote_identifier(column)}", kind

    def _compare(self, expr: Compare) -> str:
        symbol = expr.operator
        if symbol in ("==", "!=") and (_null_literal(expr.left) or _null_literal(expr.right)):
            other = expr.right if _null_literal(expr.left) else expr.left
            sql, _ = self.value(other)
            return f"({sql} IS {'' if symbol == '==' else 'NOT '}NULL)"
        if symbol in ("in", "not in"):
            contains = self._contains(expr.left, expr.right)
            return contains if symbol == "in" else f"(NOT {contains})"
        left, left_kind = self._operand(expr.left, expr.right)
        right, right_kind = self._operand(expr.right, expr.left)
        if NULL in (left, right) or left_kind != right_kind or left_kind.startswith("list"):
            return "CAST(NULL AS BOOLEAN)"
        if symbol in ("==", "!="):
            return f"({left} {'=' if symbol == '==' else '<>'} {right})"
        return f"({left} {symbol} {right})"

    def _operand(self, expr: Expr, other: Expr) -> tuple[str, str]:
        """A string literal stands for a timestamp when compared with one (as evaluate.py does)."""
        if isinstance(expr, Literal) and isinstance(expr.value, str):
            _, other_kind = SqlCompiler(self.scope, []).value(other)
            moment = parse_timestamp(expr.value) if other_kind == "timestamp" else None
            if isinstance(moment, datetime):
                return f"CAST({self.bind(moment)} AS TIMESTAMP)", "timestamp"
        return self.value(expr)

    def _contains(self, item_expr: Expr, list_expr: Expr) -> str:
        item, item_kind = self.value(item_expr)
        if isinstance(list_expr, ListLiteral):
            if item == NULL:
                return "CAST(NULL AS BOOLEAN)"
            same_kind = [entry.value for entry in list_expr.items if value_kind(entry.value) == item_kind]
            if not same_kind:
                return f"(CASE WHEN {item} IS NULL THEN NULL ELSE FALSE END)"
            options = ", ".join(self.bind(value) for value in same_kind)
            return f"(CASE WHEN {item} IS NULL THEN NULL ELSE {item} IN ({options}) END)"
        items, items_kind = self.value(list_expr)
        if NULL in (item, items) or not items_kind.startswith("list:"):
            return "CAST(NULL AS BOOLEAN)"
        found = f"list_contains({items}, {item})" if items_kind == f"list:{item_kind}" else "FALSE"
        return f"(CASE WHEN {item} IS NULL OR {items} IS NULL THEN NULL ELSE {found} END)"


def _null_literal(expr: Expr) -> bool:
    return isinstance(expr, Literal) and expr.value is None
