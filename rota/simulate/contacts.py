"""Contacts for a simulation: attribute values taken from the policy itself.

A simulated desk is only useful if its contacts reach the policy's routes, so
the values come from what the policy compares contact fields with:

- a literal: `contact.language == "es"` offers `"es"`; a number `n` in a
  comparison offers `n - 1`, `n` and `n + 1` (both sides of the boundary);
- a list: `contact.tier in [1, 2]` offers each item; `"vip" in contact.tags`
  makes `tags` a list field offering `["vip"]`;
- a user field: `contact.language in languages` offers every value the
  snapshot's users hold in `languages`; `assign to user contact.last_agent`
  offers every snapshot user id;
- a field used alone as a condition (`when contact.urgent`) offers true and
  false; a field only tested against `null` offers a placeholder text.

Every field may also be absent. The combinations of these values (all of
them, or a seeded sample when there are too many) are grouped by the route
the policy selects for them at the simulation's start; an arriving contact is
then plain (no attributes) with probability `plain_share`, and otherwise
aimed at one of the conditional routes (those with a `when`), chosen
uniformly, with one of that route's combinations chosen uniformly.
"""

from __future__ import annotations

import copy
import itertools
import random
from collections.abc import Iterable
from datetime import datetime
from typing import Any, TypeGuard

from rota.dsl.ast import AssignToUser, BoolOp, Compare, Expr, Field, ListLiteral, Literal, Not
from rota.engine import CompiledPolicy, Contact, Roster
from rota.engine.clock import now_fields
from rota.vocabulary import CONTACT_FIELDS, USER_FIELDS, Kind, Scope

# Past this many combinations the profiles are built from a random sample.
MAX_COMBINATIONS = 4096
# Built into every contact by the engine: never sampled.
BUILT_IN_CONTACT_FIELDS = tuple(CONTACT_FIELDS)
ABSENT = None
# Built-in user fields holding text (or lists of it), read off the User: a contact field may be compared with them
# (`only contact.language in languages`).
BUILT_IN_USER_TEXT_FIELDS = tuple(name for name, kind in USER_FIELDS.items() if kind in (Kind.STRING, Kind.LIST))


class ContactProfiles:
    """Attribute sets grouped by the route they reach; `sample` draws one for an arrival."""

    def __init__(self, policy: CompiledPolicy, roster: Roster, start: datetime, plain_share: float, rng: random.Random):
        self.plain_share = plain_share
        values = attribute_values(policy, roster)
        moment = now_fields(start, policy.zone)
        self.by_route: dict[str, list[dict[str, Any]]] = {}
        for attributes in _combinations(values, rng):
            route = policy.select(Contact("probe", None, attributes).fields, moment)
            if route is not None and route.when is not None:
                self.by_route.setdefault(route.name, []).append(attributes)
        # In policy order, so the draw does not depend on dictionary order.
        self.targets = [route.name for route in policy.routes if route.name in self.by_route]

    def sample(self, rng: random.Random) -> dict[str, Any]:
        if not self.targets or rng.random() < self.plain_share:
            return {}
        route = rng.choice(self.targets)
        return copy.deepcopy(rng.choice(self.by_route[route]))


def attribute_values(policy: CompiledPolicy, roster: Roster) -> dict[str, list[Any]]:
    """For each contact field the policy reads, the values worth trying (absent first)."""
    found: dict[str, list[Any]] = {}
    for compiled in policy.routes:
        route = compiled.route
        expressions = ([route.when] if route.when is not None else []) + list(route.filters)
        for expression in expressions:
            _collect(expression, roster, found, as_condition=True)
        if isinstance(route.action, AssignToUser):
            target = route.action.user
            if _is_contact_field(target):
                _offer(found, target.name, sorted(roster.users))
            else:
                _collect(target, roster, found, as_condition=False)
    return {name: [ABSENT] + (values or [f"{name}-1"]) for name, values in sorted(found.items())}


def _collect(expression: Expr, roster: Roster, found: dict[str, list[Any]], as_condition: bool) -> None:
    if isinstance(expression, Field):
        if _is_contact_field(expression):
            _offer(found, expression.name, [True, False] if as_condition else [])
    elif isinstance(expression, Not):
        _collect(expression.operand, roster, found, as_condition)
    elif isinstance(expression, BoolOp):
        _collect(expression.left, roster, found, as_condition)
        _collect(expression.right, roster, found, as_condition)
    elif isinstance(expression, Compare):
        _collect_comparison(expression, roster, found)


def _collect_comparison(comparison: Compare, roster: Roster, found: dict[str, list[Any]]) -> None:
    left, right = comparison.left, comparison.right
    if comparison.operator in ("in", "not in") and _is_contact_field(right):
        # `"vip" in contact.tags`: the field is a list holding the element.
        element = _values_of(left, roster)
        _offer(found, right.name, [[value] for value in element if value is not None])
        return
    for field, other in ((left, right), (right, left)):
        if not _is_contact_field(field):
            continue
        values = _values_of(other, roster)
        if comparison.operator not in ("in", "not in", "==", "!="):
            values = _around(values)
        _offer(found, field.name, [value for value in values if value is not None])


def _values_of(expression: Expr, roster: Roster) -> list[Any]:
    """What a contact field is compared with: a literal, a list's items, or a user field's values."""
    if isinstance(expression, Literal):
        return [expression.value]
    if isinstance(expression, ListLiteral):
        return [item.value for item in expression.items]
    if isinstance(expression, Field) and expression.scope == Scope.USER:
        return _user_field_values(expression.name, roster)
    return []


def _user_field_values(name: str, roster: Roster) -> list[Any]:
    values: list[Any] = []
    for user in sorted(roster.users.values(), key=lambda user: user.id):
        value = getattr(user, name) if name in BUILT_IN_USER_TEXT_FIELDS else user.attributes.get(name)
        values.extend(value if isinstance(value, list) else [value])
    return list(dict.fromkeys(value for value in values if isinstance(value, (str, int, float, bool))))


def _around(values: list[Any]) -> list[Any]:
    """Numbers on both sides of a boundary (`tier > 2` offers 1, 2, 3)."""
    spread: list[Any] = []
    for value in values:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            spread += [value - 1, value, value + 1]
        else:
            spread.append(value)
    return spread


def _is_contact_field(expression: Expr) -> TypeGuard[Field]:
    return (
        isinstance(expression, Field)
        and expression.scope == Scope.CONTACT
        and expression.name not in BUILT_IN_CONTACT_FIELDS
    )


def _offer(found: dict[str, list[Any]], name: str, values: list[Any]) -> None:
    known = found.setdefault(name, [])
    for value in values:
        if value not in known:
            known.append(value)


def _combinations(values: dict[str, list[Any]], rng: random.Random) -> list[dict[str, Any]]:
    names = list(values)
    total = 1
    for name in names:
        total *= len(values[name])
    chosen: Iterable[tuple[Any, ...]]
    if total <= MAX_COMBINATIONS:
        chosen = itertools.product(*(values[name] for name in names))
    else:
        chosen = (tuple(rng.choice(values[name]) for name in names) for _ in range(MAX_COMBINATIONS))
    return [{name: value for name, value in zip(names, combination) if value is not ABSENT} for combination in chosen]
