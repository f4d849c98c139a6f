"""An explanation as text for a reader: what `rota explain` prints (golden files in tests/golden/explain/)."""

from __future__ import annotations

from rota.dsl.formatter import format_string
from rota.vocabulary import Logic, Outcome

from .model import Contender, Explanation, Via, WhenValue

VALUE_WORDS = {True: "true", False: "false", None: "null"}


def render(explanation: Explanation) -> str:
    lines = [headline(explanation), *route_lines(explanation)]
    if explanation.timer is not None:
        timer = explanation.timer
        started = f", started {timer.started_at}" if timer.started_at else ""
        branch = f" -> {timer.branch}" if timer.branch else " (no branch)"
        lines.append(
            f"timer: route {timer.route}'s {timer.kind} {timer.wait or ''}{branch}{started}, fired {timer.fired_at}"
        )
    if explanation.action is not None:
        lines.append(f"action: {explanation.action}")
    lines += pool_lines(explanation) + tie_break_lines(explanation)
    if explanation.nobody is not None:
        lines.append(f"nobody: {explanation.nobody}")
    if explanation.user is not None:
        lines.append(f"user {explanation.user.user}: {explanation.user.says}")
    return "\n".join(lines) + "\n"


def route_lines(explanation: Explanation) -> list[str]:
    """How the contact reached its route: the `when`s tried, or the queue or timer it came from."""
    if explanation.via == Via.DRAIN:
        return [f"route: {explanation.decision.route} (the contact waited in its queue; a drain placed it)"]
    if explanation.via == Via.BRANCH:
        return [f"route: {explanation.decision.route} (a timer's branch: its `when` is not checked)"]
    if not explanation.routes:
        return []
    return ["route:"] + [f"  {when_line(when)}" for when in explanation.routes]


def pool_lines(explanation: Explanation) -> list[str]:
    pool = explanation.pool
    if pool is None:
        return []
    where = "the space" if pool.team is None else f"team {format_string(pool.team)}"
    width = max((len(step.only) for step in explanation.filters), default=0)
    lines = [f"pool: {where}, {pool.size} users not deleted"]
    lines += [f"  {step.only:<{width}}  dropped {step.dropped}, {step.left} left" for step in explanation.filters]
    if explanation.released:
        lines.append(f"  released from this contact: {explanation.released}")
    return lines + [f"candidates: {len(explanation.candidates)}" + _listed(explanation.candidates)]


def tie_break_lines(explanation: Explanation) -> list[str]:
    tie = explanation.tie_break
    if tie is None:
        return []
    cursor = f", cursor {tie.cursor or 'none'}" if tie.logic != Logic.LEAST_OPEN else ""
    lines = [f"tie-break: {tie.logic}{cursor}: {tie.decided_by}", f"  winner     {contender_line(tie.winner)}"]
    if tie.runner_up is not None:
        lines.append(f"  runner-up  {contender_line(tie.runner_up)}")
    return lines


def headline(explanation: Explanation) -> str:
    row = explanation.decision
    number = "" if explanation.seq is None else f" {explanation.seq}"
    parts = [f"decision{number} at {row.at}: contact {row.contact} {row.outcome}"]
    if row.user is not None:
        parts.append(f"{'to' if row.outcome == Outcome.ASSIGNED else 'from'} {row.user}")
    if row.route is not None:
        parts.append(f"by route {row.route}")
    if row.reason is not None:
        parts.append(f"({row.reason})")
    if row.deadline is not None:
        parts.append(f"until {row.deadline}")
    return " ".join(parts)


def when_line(when: WhenValue) -> str:
    condition = "(no when)" if when.when is None else f"when {when.when}"
    value = VALUE_WORDS[when.value]
    if when.null_fields:
        value += f" ({', '.join(when.null_fields)} {'is' if len(when.null_fields) == 1 else 'are'} null)"
    return f"{when.route}: {condition} -> {value}"


def contender_line(user: Contender) -> str:
    return f"{user.id}  open {user.open}, last assigned {user.last_assigned_at or 'never'}"


SHOWN = 10  # candidate ids listed in text; JSON lists them all


def _listed(ids: list[str]) -> str:
    if not ids:
        return ""
    shown = ", ".join(ids[:SHOWN])
    return f" ({shown}{', ...' if len(ids) > SHOWN else ''})"
