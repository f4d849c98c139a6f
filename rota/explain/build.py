"""An explanation worked out from the engine's state just before a decision.

Everything is read through the engine's own compiled policy: each `when` and
`only` by its compiled evaluator (engine/evaluate.py, the Python backend),
the pool from the roster, the choice by engine/choice.py's rule. Nothing here
interprets the language a second time; a property test holds the result to
the engine's decisions (tests/test_explain.py).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rota.dsl.ast import AssignToUser, Field, fields_of
from rota.dsl.formatter import format_expression, format_literal, format_string
from rota.engine.choice import first_after, least_open
from rota.engine.clock import format_instant
from rota.engine.compiler import LEAST_OPEN, UNASSIGN_ROUTE, USER_ROUTE, CompiledRoute
from rota.engine.decisions import Decision
from rota.engine.evaluate import compile_expression, compile_field
from rota.engine.roster import User
from rota.engine.router import Contact, Router
from rota.vocabulary import Outcome, Reason, Scope, Verdict

from .model import Contender, Explanation, FilterStep, Pool, Row, TieBreak, UserVerdict, Via, WhenValue


@dataclass(frozen=True)
class Moment:
    """What routing reads for one decision: the contact's fields and the `now.*` fields."""

    contact: dict[str, Any]
    now: dict[str, Any]


def row_of(decision: Decision) -> Row:
    return Row(**decision.row())


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_instant(value)
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    return value


def explain_decision(
    router: Router,
    contact: Contact,
    now: datetime,
    decision: Decision,
    via: str,
    route: CompiledRoute | None,
    seq: int | None = None,
    user: str | None = None,
    released: Collection[str] = (),
) -> Explanation:
    """Explain `decision`, which `router` is about to make (its state is the one before it).

    `route` is the route the contact is given (a drain's or a branch's); for a
    contact routed afresh (`Via.ROUTED`, `Via.BATCH`) it is None and the `when`s
    are tried as routing tries them."""
    moment = Moment(contact.fields, router.now_fields(now))
    routes: list[WhenValue] = []
    if via in (Via.ROUTED, Via.BATCH):
        routes = whens_tried(router, moment)
        route = router.policy.route_named(routes[-1].route) if routes and routes[-1].value is True else None
    explanation = Explanation(
        seq=seq,
        decision=row_of(decision),
        via=via,
        contact={name: jsonable(value) for name, value in sorted(moment.contact.items())},
        routes=routes,
    )
    if route is None:
        if via == Via.BRANCH:  # a timer's `-> unassign`
            explanation.action = "unassign"
            explanation.user = no_pool_verdict(user, "the timer's branch unassigns: it chooses nobody")
        else:
            explanation.user = no_pool_verdict(user, "no route's `when` holds, so nobody is chosen")
        return explanation
    explanation.action = action_text(route)
    if route.kind == UNASSIGN_ROUTE:
        explanation.user = no_pool_verdict(user, f"route {route.name} unassigns: it chooses nobody")
    elif route.kind == USER_ROUTE:
        explain_named_user(router, route, moment, decision, explanation, user)
    else:
        explain_pool(router, route, moment, explanation, user, released)
    return explanation


def whens_tried(router: Router, moment: Moment) -> list[WhenValue]:
    """SPEC 3.1: each route's `when` in order, up to the first that holds."""
    tried = []
    for route in router.policy.routes:
        condition = route.route.when
        if condition is None:
            tried.append(WhenValue(route=route.name, when=None, value=True))
            break
        value = compile_expression(condition)(None, moment.contact, moment.now)
        value = value if isinstance(value, bool) else None
        null_fields = [] if value is not None else null_fields_in(condition, moment)
        tried.append(
            WhenValue(route=route.name, when=format_expression(condition, None), value=value, null_fields=null_fields)
        )
        if value is True:
            break
    return tried


def null_fields_in(condition, moment: Moment) -> list[str]:
    fields = dict.fromkeys(format_expression(f, None) for f in fields_of(condition) if _read(f, None, moment) is None)
    return list(fields)


def _read(field: Field, user: User | None, moment: Moment) -> Any:
    return compile_field(field)(user, moment.contact, moment.now)


def action_text(route: CompiledRoute) -> str:
    action = route.route.action
    if route.kind == UNASSIGN_ROUTE:
        return "unassign"
    if isinstance(action, AssignToUser):
        return f"assign to user {format_expression(action.user, None)}"
    target = "space" if route.team is None else f"team {format_string(route.team)}"
    return f"assign to {target} using {route.logic}"


def explain_named_user(
    router: Router,
    route: CompiledRoute,
    moment: Moment,
    decision: Decision,
    explanation: Explanation,
    user: str | None,
) -> None:
    action = route.route.action
    assert isinstance(action, AssignToUser) and route.target_user is not None  # a user route
    target = route.target_user(None, moment.contact, moment.now)
    if decision.outcome == Outcome.FAILED:
        named = format_expression(action.user, None)
        said = NAMED_USER_FAILURES.get(str(decision.reason), str(decision.reason))
        explanation.nobody = f"{named} is {format_literal(jsonable(target))}: {said}"
    if user is not None:
        if decision.user == user:
            explanation.user = UserVerdict(
                user=user, verdict=Verdict.CHOSEN, says=f"{user} is the user the route names"
            )
        else:
            explanation.user = no_pool_verdict(
                user, f"route {route.name} names its user ({format_literal(jsonable(target))})"
            )


# Why `assign to user` failed, in words (SPEC 3.2).
NAMED_USER_FAILURES = {
    Reason.USER_NOT_FOUND.value: "no user has that id",
    Reason.USER_DELETED.value: "that user is deleted",
    Reason.USER_RELEASED.value: "the contact was released from that user",
}


def no_pool_verdict(user: str | None, says: str) -> UserVerdict | None:
    return None if user is None else UserVerdict(user=user, verdict=Verdict.NO_POOL, says=says)


def explain_pool(
    router: Router,
    route: CompiledRoute,
    moment: Moment,
    explanation: Explanation,
    user: str | None,
    released: Collection[str],
) -> None:
    """SPEC 3.2-3.4 for a team or space: the pool, each `only`, the released users, the tie-break."""
    pool = router.roster.pool(route.team)
    explanation.pool = Pool(team=route.team, size=len(pool))
    remaining, dropped_by = pool, None
    for conjunct in route.plan.conjuncts:
        kept = [u for u in remaining if conjunct.condition(u, moment.contact, moment.now)]
        text = "only " + format_expression(conjunct.expr, Scope.USER.value)
        explanation.filters.append(FilterStep(only=text, dropped=len(remaining) - len(kept), left=len(kept)))
        if user is not None and dropped_by is None and _holds(remaining, user) and not _holds(kept, user):
            dropped_by = (text, conjunct.expr)
        remaining = kept
    candidates = [u for u in remaining if u.id not in released]
    explanation.released = len(remaining) - len(candidates)
    explanation.candidates = [u.id for u in candidates]
    if candidates:
        explanation.tie_break = tie_break(router, route, candidates)
    else:
        explanation.nobody = why_nobody(explanation)
    if user is not None:
        explanation.user = pool_verdict(router, route, moment, explanation, user, dropped_by, released)


def _holds(users: Sequence[User], user_id: str) -> bool:
    return any(u.id == user_id for u in users)


def why_nobody(explanation: Explanation) -> str:
    pool = explanation.pool
    assert pool is not None  # asked only for a team or space route
    where = "the space" if pool.team is None else f"team {format_string(pool.team)}"
    if pool.size == 0:
        return f"{where} has no users that are not deleted"
    emptied = next((step for step in explanation.filters if step.left == 0), None)
    if emptied is not None:
        return f"`{emptied.only}` dropped the last {emptied.dropped} of {where}'s users"
    return f"every user left in {where} was released from this contact"


def contender(user: User) -> Contender:
    return Contender(id=user.id, open=user.open, last_assigned_at=format_instant(user.last_assigned_at))


def tie_break(router: Router, route: CompiledRoute, candidates: list[User]) -> TieBreak:
    """SPEC 3.4 by engine/choice.py's rule: the winner, the runner-up and what separated them."""
    if route.logic == LEAST_OPEN:
        winner = least_open(candidates)
        others = [u for u in candidates if u is not winner]
        runner_up = least_open(others) if others else None
        return TieBreak(
            logic=route.logic,
            winner=contender(winner),
            runner_up=None if runner_up is None else contender(runner_up),
            decided_by=least_open_difference(winner, runner_up),
        )
    assert route.pool_key is not None  # round robin routes to a team or the space, which have a cursor
    cursor = router.roster.cursors.get(route.pool_key)
    start = first_after([u.id for u in candidates], cursor)
    winner = candidates[start]
    runner_up = candidates[(start + 1) % len(candidates)] if len(candidates) > 1 else None
    if cursor is None:
        decided_by = "the pool has no cursor yet: the first candidate by id"
    elif winner.id > cursor:
        decided_by = f"the first candidate by id after the cursor {cursor}"
    else:
        decided_by = f"no candidate sorts after the cursor {cursor}: the rotation wrapped round to the first"
    return TieBreak(
        logic=route.logic,
        cursor=cursor,
        winner=contender(winner),
        runner_up=None if runner_up is None else contender(runner_up),
        decided_by=decided_by,
    )


def least_open_difference(winner: User, other: User | None) -> str:
    """What puts `winner` before `other` in least-open order, in words."""
    if other is None:
        return "the only candidate"
    if winner.open != other.open:
        return f"fewest open contacts ({winner.id} has {winner.open}, {other.id} has {other.open})"
    if winner.assigned_order != other.assigned_order:
        when = format_instant(winner.last_assigned_at) if winner.last_assigned_at else "never"
        return f"both have {winner.open} open; {winner.id} was assigned less recently ({when})"
    return f"both have {winner.open} open and the same last assignment; {winner.id} has the smaller id"


def pool_verdict(
    router: Router,
    route: CompiledRoute,
    moment: Moment,
    explanation: Explanation,
    user: str,
    dropped_by: tuple[str, Any] | None,
    released: Collection[str],
) -> UserVerdict:
    known = router.roster.users.get(user)
    if known is None:
        return UserVerdict(user=user, verdict=Verdict.UNKNOWN, says=f"there is no user {user}")
    if known.deleted:
        return UserVerdict(user=user, verdict=Verdict.DELETED, says=f"{user} is deleted: never a candidate")
    if not router.roster.in_pool(known, route.team):
        where = f"a member of team {format_string(route.team or '')}"
        return UserVerdict(user=user, verdict=Verdict.NOT_IN_POOL, says=f"{user} is not {where}")
    if dropped_by is not None:
        text, expr = dropped_by
        values = {
            format_expression(f, Scope.USER.value): jsonable(_read(f, known, moment))
            for f in fields_of(expr)
            if f.scope == Scope.USER
        }
        shown = ", ".join(f"{name} is {format_literal(value)}" for name, value in values.items())
        return UserVerdict(
            user=user, verdict=Verdict.FILTERED, says=f"`{text}` dropped {user}: {shown}", only=text, values=values
        )
    if user in released:
        return UserVerdict(user=user, verdict=Verdict.RELEASED, says=f"{user} was released from this contact")
    tie = explanation.tie_break
    assert tie is not None  # the user is a candidate, so there are candidates
    if tie.winner.id == user:
        return UserVerdict(user=user, verdict=Verdict.CHOSEN, says=f"{user} was chosen: {tie.decided_by}")
    winner = router.roster.users[tie.winner.id]
    if route.logic == LEAST_OPEN:
        says = f"{user} lost the tie-break to {winner.id}: {least_open_difference(winner, known)}"
    else:
        says = (
            f"{user} lost the tie-break to {winner.id}, which comes first in the rotation after the cursor {tie.cursor}"
        )
    return UserVerdict(user=user, verdict=Verdict.LOST, says=says)
