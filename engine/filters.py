"""A route's `only` filters, analysed once at compile time for every path.

Each `only` is split into its top-level `and` conjuncts (Kleene `and` holds
exactly when every conjunct holds), and each conjunct gets one of four paths:

- static: reads only user fields that no assignment changes (`online`,
  `skills`, ...): the pool narrowed once, kept up to date as users change;
- cap: `open < N` / `open <= N`, monotone in `open` (a user that fails keeps
  failing until one of its contacts is taken away);
- indexed: one contact or `now` field against one unchanging user field in
  a shape an index answers (`contact.X in user.L`, `user.F == contact.X`,
  `user.F in contact.L`, `user.F < contact.X` and the other orderings, and
  the same with `now.hour` and the other `now` fields in place of the
  contact's): the live engine keeps candidate sets keyed by those values,
  so a set for `now.hour` = 9 serves every decision of that hour;
- scan: anything else that reads the contact or `now`, `open` other than as
  a cap, or `last_assigned_at`: checked for every candidate at every pick.

The router, the live candidate sets, the batch planner and `rota check --plan`
all read this analysis (`FilterPlan`, on every CompiledRoute).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from rota.dsl.ast import BoolOp, Compare, Expr, Field, Literal, fields_of
from rota.vocabulary import CHANGING_USER_FIELDS, Scope, Status, UserField

from .evaluate import Evaluator, compile_condition, compile_field

Condition = Callable[[Any, Any, Any], bool]
ONLINE = Status.ONLINE.value
_MIRRORED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "=="}


class Path(enum.Enum):
    """How a conjunct is checked."""

    STATIC = "static"
    CAP = "cap"
    INDEXED = "indexed"
    SCAN = "scan"


class Shape(enum.Enum):
    """The index shapes: what the user's side of the comparison is looked up by."""

    CONTAINS = "contains"  # contact.X in user.L: users by each item of their list
    EQUALS = "equals"  # user.F == contact.X: users by their value
    MEMBER = "member"  # user.F in contact.L: users by their value, one look-up per item
    ORDER = "order"  # user.F < contact.X (<=, >, >=): users sorted by their value


@dataclass(frozen=True)
class KeyField:
    """A field the candidate sets are keyed by: a contact field, or a `now` field (`now.hour`)."""

    scope: str  # Scope.CONTACT or Scope.NOW
    name: str

    def __str__(self) -> str:
        return f"{self.scope}.{self.name}"


@dataclass(frozen=True)
class IndexSpec:
    shape: Shape
    user_field: str  # the user field indexed
    key: KeyField  # the contact or `now` field the candidate sets are keyed by
    read_user: Evaluator  # reads user_field of a user
    operator: str = ""  # for ORDER: `user.F <operator> contact.X`, the user on the left


@dataclass(frozen=True)
class Conjunct:
    expr: Expr
    condition: Condition
    path: Path
    reads_contact: bool
    reads_now: bool
    changing: bool  # reads a user field that assignments change (`open`, `last_assigned_at`)
    cap: tuple[bool, float] | None = None  # (strict, limit) of a cap
    index: IndexSpec | None = None


@dataclass(frozen=True)
class FilterPlan:
    conjuncts: tuple[Conjunct, ...]

    @property
    def static(self) -> tuple[Conjunct, ...]:
        return tuple(c for c in self.conjuncts if c.path is Path.STATIC)

    @property
    def per_pick(self) -> tuple[Conjunct, ...]:
        return tuple(c for c in self.conjuncts if c.path is not Path.STATIC)

    @property
    def caps(self) -> tuple[Conjunct, ...]:
        return tuple(c for c in self.conjuncts if c.path is Path.CAP)

    @property
    def indexed(self) -> tuple[Conjunct, ...]:
        return tuple(c for c in self.conjuncts if c.path is Path.INDEXED)

    @cached_property  # read at every decision
    def live(self) -> bool:
        """No conjunct needs a scan: the live engine keeps the candidates up to date."""
        return all(c.path is not Path.SCAN for c in self.conjuncts)

    @cached_property
    def key_fields(self) -> tuple[KeyField, ...]:
        """The contact and `now` fields the live candidate sets are keyed by, in the order of the conjuncts."""
        return tuple(dict.fromkeys(c.index.key for c in self.indexed if c.index is not None))


def conjuncts_of(expr: Expr) -> list[Expr]:
    if isinstance(expr, BoolOp) and expr.operator == "and":
        return conjuncts_of(expr.left) + conjuncts_of(expr.right)
    return [expr]


def reads_only_static_user_fields(conjunct: Expr) -> bool:
    return all(f.scope == Scope.USER and f.name not in CHANGING_USER_FIELDS for f in fields_of(conjunct))


def cap_of(conjunct: Expr) -> tuple[bool, float] | None:
    """`open < N` / `open <= N` (either way round) as (strict, N): a monotone cap."""
    if not isinstance(conjunct, Compare):
        return None
    left, right, symbol = conjunct.left, conjunct.right, conjunct.operator
    if isinstance(left, Literal) and isinstance(right, Field):
        left, right = right, left
        symbol = _MIRRORED.get(symbol, symbol)
    is_open = isinstance(left, Field) and left.scope == Scope.USER and left.name == UserField.OPEN
    value = right.value if isinstance(right, Literal) else None
    if is_open and isinstance(value, (int, float)) and not isinstance(value, bool) and symbol in ("<", "<="):
        return (symbol == "<", value)
    return None


def index_of(conjunct: Expr) -> IndexSpec | None:
    """The index shape of a comparison of one contact or `now` field with one unchanging user field."""
    if not isinstance(conjunct, Compare):
        return None
    left, right, symbol = conjunct.left, conjunct.right, conjunct.operator
    if not (isinstance(left, Field) and isinstance(right, Field)):
        return None
    if symbol == "in":
        if _is_key(left) and _is_static_user(right):
            return IndexSpec(Shape.CONTAINS, right.name, _key(left), compile_field(right))
        if _is_static_user(left) and _is_key(right):
            return IndexSpec(Shape.MEMBER, left.name, _key(right), compile_field(left))
        return None
    if symbol not in _MIRRORED:
        return None
    if _is_key(left) and _is_static_user(right):
        left, right, symbol = right, left, _MIRRORED[symbol]
    if not (_is_static_user(left) and _is_key(right)):
        return None
    shape = Shape.EQUALS if symbol == "==" else Shape.ORDER
    return IndexSpec(shape, left.name, _key(right), compile_field(left), "" if shape is Shape.EQUALS else symbol)


def _is_key(field: Field) -> bool:
    """A field the same for every user of one decision: the contact's, or the clock's."""
    return field.scope in (Scope.CONTACT, Scope.NOW)


def _key(field: Field) -> KeyField:
    return KeyField(Scope(field.scope).value, field.name)


def _is_static_user(field: Field) -> bool:
    return field.scope == Scope.USER and field.name not in CHANGING_USER_FIELDS


def compile_filter(conjunct: Expr) -> Condition:
    """A cap and `only online` compile to one comparison; anything else to the general evaluator."""
    if isinstance(conjunct, Field) and conjunct.scope == Scope.USER and conjunct.name == UserField.ONLINE:
        return lambda user, contact, now: user.status == ONLINE  # a null status is not online either
    cap = cap_of(conjunct)
    if cap is None:
        return compile_condition(conjunct)
    strict, limit = cap
    if strict:
        return lambda user, contact, now: user.open < limit
    return lambda user, contact, now: user.open <= limit


def analyse(expr: Expr) -> Conjunct:
    fields = fields_of(expr)
    changing = any(f.scope == Scope.USER and f.name in CHANGING_USER_FIELDS for f in fields)
    cap, index = cap_of(expr), index_of(expr)
    if reads_only_static_user_fields(expr):
        path = Path.STATIC
    elif cap is not None:
        path = Path.CAP
    elif index is not None:
        path = Path.INDEXED
    else:
        path = Path.SCAN
    return Conjunct(
        expr=expr,
        condition=compile_filter(expr),
        path=path,
        reads_contact=any(f.scope == Scope.CONTACT for f in fields),
        reads_now=any(f.scope == Scope.NOW for f in fields),
        changing=changing,
        cap=cap,
        index=index,
    )


def plan_filters(filters: tuple[Expr, ...]) -> FilterPlan:
    return FilterPlan(tuple(analyse(part) for condition in filters for part in conjuncts_of(condition)))
