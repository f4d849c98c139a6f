"""`rota check --plan`: which path each route's filters take in the live engine, in the user's words.

A route whose every filter is static, a cap or indexed has its candidates
kept up to date: a decision costs O(log n). One filter the engine must scan
makes the whole route check every user of its pool at every decision and
every drain; the plan says which filter and why, before the policy ships.
"""

from __future__ import annotations

from rota.dsl.ast import AssignToSpace, AssignToTeam, AssignToUser, fields_of
from rota.dsl.formatter import format_expression, format_string
from rota.engine import CompiledPolicy, CompiledRoute
from rota.engine.filters import Conjunct, Path, Shape
from rota.vocabulary import CHANGING_USER_FIELDS, Scope, UserField

_INDEX_WORDS = {
    Shape.CONTAINS: "users by each item of `{user}`",
    Shape.EQUALS: "users by `{user}`",
    Shape.MEMBER: "users by `{user}`, looked up for each item of {key}",
    Shape.ORDER: "users in order of `{user}`",
}


def policy_plan(policy: CompiledPolicy) -> str:
    """One paragraph per route: where it is, what it does, then one line per filter."""
    return "".join(_route_plan(route) for route in policy.routes)


def _route_plan(route: CompiledRoute) -> str:
    place = route.route.position
    where = f"{place.file}:{place.line}: " if place.file else ""
    action = route.route.action
    head = f"{where}route {route.name} ({_action_words(action)})"
    if not isinstance(action, (AssignToTeam, AssignToSpace)):
        return f"{head}: nobody to choose among, nothing to check\n"
    pool = "team" if isinstance(action, AssignToTeam) else "space"
    conjuncts = route.plan.conjuncts
    if not conjuncts:
        summary = f"no filters: every user of the {pool}, kept up to date"
    elif route.plan.live:
        summary = "candidates kept up to date: no scan"
    else:
        summary = f"scans every user of the {pool} at each decision and each drain"
    lines = [f"{head}: {summary}\n"]
    for conjunct in conjuncts:
        words = _path_words(conjunct, pool)
        if not route.plan.live and conjunct.path in (Path.CAP, Path.INDEXED):
            words = f"{conjunct.path.value} shape, but checked in the scan: another filter of the route needs one"
        lines.append(f"  only {format_expression(conjunct.expr, Scope.USER.value)}: {words}\n")
    return "".join(lines)


def _action_words(action) -> str:
    if isinstance(action, AssignToTeam):
        return f"assign to team {format_string(action.team)}"
    if isinstance(action, AssignToSpace):
        return "assign to space"
    if isinstance(action, AssignToUser):
        return "assign to user " + format_expression(action.user, bare_scope=None)
    return "unassign"


def _path_words(conjunct: Conjunct, pool: str) -> str:
    if conjunct.path is Path.STATIC:
        return f"static (the {pool} narrowed once, kept up to date as users change)"
    if conjunct.path is Path.CAP:
        return "cap (kept up to date as counts change)"
    if conjunct.path is Path.INDEXED and conjunct.index is not None:
        index = conjunct.index
        words = _INDEX_WORDS[index.shape].format(user=index.user_field, key=index.key)
        return f"indexed ({words}; a candidate set per value of {index.key})"
    return f"scan ({_scan_reason(conjunct)})"


def _scan_reason(conjunct: Conjunct) -> str:
    fields = fields_of(conjunct.expr)
    if conjunct.reads_now:
        return "it reads now, which moves between decisions"
    moving = sorted({f.name for f in fields if f.scope == Scope.USER and f.name in CHANGING_USER_FIELDS})
    if UserField.LAST_ASSIGNED_AT.value in moving:
        return "it reads last_assigned_at, which every assignment moves"
    if moving:
        return "it reads open other than as a cap like `open < 5`"
    return "not a shape the engine indexes, such as an `or` or a `not` over contact fields"
