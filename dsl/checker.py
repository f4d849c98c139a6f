"""The static rules of SPEC 2.2-2.3, every problem reported in one run, sorted by place."""

from __future__ import annotations

import zoneinfo
from functools import lru_cache

from rota import diagnostics as codes
from rota.vocabulary import Reason, RouteKind

from . import ast
from .diagnostics import Code, Diagnostic, did_you_mean, sorted_diagnostics
from .formatter import format_duration as format_seconds
from .type_check import TypeChecker
from .types import SnapshotSchema

ONCE_PER_ROUTE = {ast.Using: "using", ast.Priority: "priority", ast.Timeout: "timeout"}
QUEUE_ONLY = {ast.Using: "using", ast.Only: "only", ast.Timeout: "timeout"}
ACTION_WORDS = {ast.AssignToUser: "assign to user", ast.Unassign: RouteKind.UNASSIGN.value}


def check(policy: ast.Policy, schema: SnapshotSchema | None = None) -> list[Diagnostic]:
    found: list[Diagnostic] = []

    def report(position: ast.Position, message: str, hint: str | None = None, code: Code = codes.SYNTAX) -> None:
        """A finding at a node's place (its end too, when the parser gave one), as severe as its code."""
        file = position.file or policy.file  # routes of a folder each name their own file
        end = (position.end_line, position.end_column) if position.end_line else (None, None)
        found.append(Diagnostic(file, position.line, position.column, message, hint, code.severity, code, *end))

    _check_timezone(policy, report)
    _check_names_and_branches(policy, report)
    for route in policy.routes:
        _check_options(route, report)
        TypeChecker(schema, report).check_route(route)
        if schema is not None:
            _check_against_snapshot(route, schema, report)
    return sorted_diagnostics(found)


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _check_timezone(policy: ast.Policy, report) -> None:
    if policy.timezone is None:
        return
    try:
        zoneinfo.ZoneInfo(policy.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        report(
            policy.timezone_position,
            f"unknown timezone `{policy.timezone}`",
            did_you_mean(policy.timezone, _zones()) or 'use an IANA name like "Europe/Berlin"',
            codes.UNKNOWN_TIMEZONE,
        )


def _check_names_and_branches(policy: ast.Policy, report) -> None:
    first_seen: dict[str, ast.Route] = {}
    for route in policy.routes:
        if route.name in first_seen:
            first = first_seen[route.name].name_position
            where = (
                f"on line {first.line}" if first.file == route.name_position.file else f"at {first.file}:{first.line}"
            )
            report(
                route.name_position,
                f"route `{route.name}` is defined twice (first {where})",
                "give each route its own name",
                code=codes.DUPLICATE_ROUTE,
            )
        else:
            first_seen[route.name] = route
    for route in policy.routes:
        for option in route.options:
            if (
                isinstance(option, (ast.Timeout, ast.Reassign))
                and option.branch is not None
                and option.branch not in (ast.UNASSIGN_BRANCH, *first_seen)
            ):
                what = "timeout" if isinstance(option, ast.Timeout) else f"`reassign when {option.trigger}`"
                report(
                    option.branch_position,
                    f"{what} branch `{option.branch}` names no route",
                    did_you_mean(option.branch, first_seen) or "name a route of this policy, or `unassign`",
                    codes.UNKNOWN_BRANCH,
                )
    _check_cycles(policy, first_seen, report)  # timeout branches only: a released contact runs out of users


def _check_cycles(policy: ast.Policy, routes: dict[str, ast.Route], report) -> None:
    """Each route has at most one branch, so following branches finds every cycle."""
    reported: set[frozenset[str]] = set()
    for route in policy.routes:
        path = [route.name]
        current = route
        while current.branch in routes:
            current = routes[current.branch]
            if current.name in path:
                cycle = path[path.index(current.name) :] + [current.name]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    start = routes[cycle[0]]
                    timeout = next(o for o in start.options if isinstance(o, ast.Timeout))
                    report(
                        timeout.branch_position,
                        "timeout branches form a cycle: " + " -> ".join(cycle),
                        "end the chain with a route that has no timeout branch, or with `-> unassign`",
                        codes.BRANCH_CYCLE,
                    )
                break
            path.append(current.name)


def _check_options(route: ast.Route, report) -> None:
    seen: set[type] = set()
    for option in route.options:
        if isinstance(option, ast.Reassign):
            _check_reassign(route, option, report)
            continue
        kind = type(option)
        if kind in ONCE_PER_ROUTE and kind in seen:
            report(
                option.position,
                f"`{ONCE_PER_ROUTE[kind]}` is given twice in route `{route.name}`",
                "keep one",
                codes.OPTION_TWICE,
            )
        seen.add(kind)
        if kind in QUEUE_ONLY and not route.queues:
            action = ACTION_WORDS[type(route.action)]
            report(
                option.position,
                f"`{QUEUE_ONLY[kind]}` has no meaning with `{action}`: it never queues and never chooses among users",
                "use it with `assign to team` or `assign to space`",
                codes.OPTION_WITHOUT_QUEUE,
            )
        if isinstance(option, ast.Timeout) and not 0 < option.seconds <= ast.MAX_TIMEOUT_SECONDS:
            what = "of zero" if option.seconds == 0 else "longer than 7 days"
            report(
                option.position, f"a timeout {what} is not allowed", "give a timeout from 1s to 7d", codes.TIMEOUT_RANGE
            )


def _check_reassign(route: ast.Route, option: ast.Reassign, report) -> None:
    """SPEC 2.2: with team, space and user actions, once per trigger, 1s to 7d, a branch on a user route."""
    written = f"reassign when {option.trigger}"
    if next(other for other in route.reassigns if other.trigger == option.trigger) is not option:
        report(option.position, f"`{written}` is given twice in route `{route.name}`", "keep one", codes.OPTION_TWICE)
    if isinstance(route.action, ast.Unassign):
        report(
            option.position,
            f"`reassign` has no meaning with `{RouteKind.UNASSIGN}`: the route gives the contact to nobody",
            "use it with `assign to user`, `assign to team` or `assign to space`",
            codes.REASSIGN_WITH_UNASSIGN,
        )
    elif isinstance(route.action, ast.AssignToUser) and option.branch is None:
        report(
            option.position,
            f"`{written}` on `assign to user` needs a branch: routing again would pick the same user",
            f"add where the contact goes next: `{written} {format_seconds(option.seconds)} -> ROUTE` or `-> unassign`",
            codes.REASSIGN_NEEDS_BRANCH,
        )
    if not 0 < option.seconds <= ast.MAX_REASSIGN_SECONDS:
        what = "of zero" if option.seconds == 0 else "longer than 7 days"
        report(
            option.position,
            f"a `reassign` wait {what} is not allowed",
            "give a wait from 1s to 7d",
            codes.REASSIGN_RANGE,
        )


def _check_against_snapshot(route: ast.Route, schema: SnapshotSchema, report) -> None:
    action = route.action
    if isinstance(action, ast.AssignToTeam) and schema.teams is not None and action.team not in schema.teams:
        report(
            action.position,
            f"the snapshot has no team `{action.team}`: this route will fail with {Reason.TEAM_EMPTY}",
            did_you_mean(action.team, schema.teams),
            codes.UNKNOWN_TEAM,
        )
    if (
        isinstance(action, ast.AssignToUser)
        and isinstance(action.user, ast.Literal)
        and isinstance(action.user.value, str)
        and schema.user_ids is not None
        and action.user.value not in schema.user_ids
    ):
        report(
            action.position,
            f"the snapshot has no user `{action.user.value}`",
            did_you_mean(action.user.value, schema.user_ids),
            codes.UNKNOWN_USER,
        )
