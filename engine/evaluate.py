"""Expressions compiled to Python closures, with SQL's three-valued logic.

A compiled expression is `fn(user, contact, now) -> value`, where `user` is a
`User` (or None where no user is in scope), `contact` a mapping of the
contact's fields and `now` the mapping of `now.*` fields. `None` is null.

Runtime values of incompatible types (a string against a number) compare as
null, the same as the SQL path (see sql.py), so a `when` on a contact field
that sometimes holds the wrong type simply does not hold.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import datetime
from typing import Any

from rota.dsl.ast import BoolOp, Compare, Expr, Field, ListLiteral, Literal, Not
from rota.storage.kinds import value_kind  # the one rule for a value's kind, shared with the readers
from rota.vocabulary import Scope, Status, UserField

Evaluator = Callable[[Any, Any, Any], Any]

_ORDERINGS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def values_equal(left: Any, right: Any) -> bool | None:
    if left is None or right is None:
        return None
    kind = value_kind(left)
    if kind != value_kind(right) or kind in ("list", "other"):
        return None  # lists are searched with `in`, never compared whole
    return left == right


def values_order(symbol: str, left: Any, right: Any) -> bool | None:
    if left is None or right is None:
        return None
    kind = value_kind(left)
    if kind != value_kind(right) or kind in ("list", "other"):
        return None
    return _ORDERINGS[symbol](left, right)


def list_contains(item: Any, items: Any) -> bool | None:
    if item is None or not isinstance(items, (list, tuple)):  # null, or not a list: null
        return None
    if not items:
        return False
    if type(item) is str:  # a text equals only a text: `in` is the same test, without a kind per element
        return item in items
    kind = value_kind(item)
    return any(value_kind(element) == kind and element == item for element in items)


def kleene_not(value: Any) -> bool | None:
    return (not value) if isinstance(value, bool) else None


def kleene_and(left: Any, right: Any) -> bool | None:
    left = left if isinstance(left, bool) else None
    right = right if isinstance(right, bool) else None
    if left is False or right is False:
        return False
    if left is None or right is None:
        return None
    return True


def kleene_or(left: Any, right: Any) -> bool | None:
    left = left if isinstance(left, bool) else None
    right = right if isinstance(right, bool) else None
    if left is True or right is True:
        return True
    if left is None or right is None:
        return None
    return False


def parse_timestamp(text: str) -> datetime | None:
    """An ISO 8601 string as a naive UTC datetime (the engine's time), or None."""
    from .clock import to_utc

    try:
        return to_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return None


# ------------------------------------------------------------------ compiling


def compile_expression(expr: Expr) -> Evaluator:
    if isinstance(expr, Literal):
        value = expr.value
        return lambda user, contact, now: value
    if isinstance(expr, ListLiteral):
        values = [item.value for item in expr.items]
        return lambda user, contact, now: values
    if isinstance(expr, Field):
        return compile_field(expr)
    if isinstance(expr, Not):
        operand = compile_expression(expr.operand)
        return lambda user, contact, now: kleene_not(operand(user, contact, now))
    if isinstance(expr, BoolOp):
        return _compile_bool_op(expr)
    if isinstance(expr, Compare):
        return _compile_compare(expr)
    raise TypeError(f"not an expression: {expr!r}")


def compile_condition(expr: Expr) -> Callable[[Any, Any, Any], bool]:
    """A `when` or `only`: holds only when the expression is true."""
    evaluate = compile_expression(expr)
    return lambda user, contact, now: evaluate(user, contact, now) is True


def compile_field(field: Field) -> Evaluator:
    name = field.name
    if field.scope == Scope.CONTACT:
        return lambda user, contact, now: contact.get(name)
    if field.scope == Scope.NOW:
        return lambda user, contact, now: now.get(name)
    reader = USER_FIELDS.get(name)
    if reader is not None:
        return lambda user, contact, now: reader(user)
    return lambda user, contact, now: user.attributes.get(name)


ONLINE = Status.ONLINE.value


def _online(user) -> bool | None:
    return None if user.status is None else user.status == ONLINE


# How each built-in user field (rota.vocabulary.USER_FIELDS) is read from a `User`.
USER_FIELDS: dict[str, Callable[[Any], Any]] = {
    UserField.ID.value: lambda user: user.id,
    UserField.NAME.value: lambda user: user.name,
    UserField.STATUS.value: lambda user: user.status,
    UserField.ONLINE.value: _online,
    UserField.OPEN.value: lambda user: user.open,
    UserField.TEAMS.value: lambda user: user.teams,
    UserField.LAST_ASSIGNED_AT.value: lambda user: user.last_assigned_at,
}


def _compile_bool_op(expr: BoolOp) -> Evaluator:
    left = compile_expression(expr.left)
    right = compile_expression(expr.right)
    combine = kleene_and if expr.operator == "and" else kleene_or
    return lambda user, contact, now: combine(left(user, contact, now), right(user, contact, now))


def _is_null_literal(expr: Expr) -> bool:
    return isinstance(expr, Literal) and expr.value is None


def _compile_compare(expr: Compare) -> Evaluator:
    symbol = expr.operator
    if symbol in ("==", "!=") and (_is_null_literal(expr.left) or _is_null_literal(expr.right)):
        other = compile_expression(expr.right if _is_null_literal(expr.left) else expr.left)
        want_null = symbol == "=="
        return lambda user, contact, now: (other(user, contact, now) is None) == want_null
    left = _compile_operand(expr.left)
    right = _compile_operand(expr.right)
    if symbol == "in":
        return lambda user, contact, now: list_contains(left(user, contact, now), right(user, contact, now))
    if symbol == "not in":
        return lambda user, contact, now: kleene_not(list_contains(left(user, contact, now), right(user, contact, now)))
    if symbol == "==":
        return lambda user, contact, now: values_equal(*_align(left(user, contact, now), right(user, contact, now)))
    if symbol == "!=":
        return lambda user, contact, now: kleene_not(
            values_equal(*_align(left(user, contact, now), right(user, contact, now)))
        )
    return lambda user, contact, now: values_order(symbol, *_align(left(user, contact, now), right(user, contact, now)))


class _TimestampText(str):
    """A string literal that also reads as a timestamp, for `last_assigned_at < "2026-01-01"`."""

    timestamp: datetime | None


def _compile_operand(expr: Expr) -> Evaluator:
    if isinstance(expr, Literal) and isinstance(expr.value, str):
        text = _TimestampText(expr.value)
        text.timestamp = parse_timestamp(expr.value)
        return lambda user, contact, now: text
    return compile_expression(expr)


def _align(left: Any, right: Any) -> tuple[Any, Any]:
    """Let a string literal stand for a timestamp when compared with one."""
    if isinstance(left, _TimestampText) and isinstance(right, datetime) and left.timestamp:
        return left.timestamp, right
    if isinstance(right, _TimestampText) and isinstance(left, datetime) and right.timestamp:
        return left, right.timestamp
    return left, right
