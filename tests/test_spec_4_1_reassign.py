"""SPEC 4.1, after assignment: reassignment. One test per sentence, each a small scenario.

A scenario is a policy, a snapshot, an event log and the rows SPEC 4.1 says
the engine writes for it. `holds` asserts that rota.testing's model accepts
the spec's rows and that the engine writes exactly those rows: in memory,
through `rota replay`, and through `rota replay --db`; `caught` that the
model catches them when one is changed, moved or dropped.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from rota.cli import main
from rota.dsl import load_policy
from rota.engine import CompiledPolicy, Decision, DurableEngine, Event, compile_policy
from rota.testing import ReleasesViolation, Run, Snapshot, UserRecord, check_releases, check_run, run_engine, runs
from rota.testing.model import (
    CONSERVATION,
    DEADLINES,
    ELIGIBILITY,
    QUEUE_ORDER,
    RELEASES,
    ROUND_ROBIN_TURNS,
    walk,
)
from rota.vocabulary import EventType, Outcome, Reason

T0 = datetime(2026, 11, 25, 9, 0)
ASSIGNED, QUEUED, UNASSIGNED, FAILED = Outcome.ASSIGNED, Outcome.QUEUED, Outcome.UNASSIGNED, Outcome.FAILED
TIMED_OUT, RELEASED = Outcome.TIMED_OUT, Outcome.RELEASED
UNANSWERED, AWAY = Reason.UNANSWERED, Reason.AWAY

DESK = """
route sticky when contact.last_agent != null {
  assign to user contact.last_agent
  reassign when away 10m -> desk
}

route retry when contact.retry == true {
  assign to user contact.last_agent
}

route gone when contact.gone == true {
  unassign
}

route desk {
  assign to team "Desk"
  only online
  timeout 30m
  reassign when unanswered 5m
}

route night {
  assign to team "Night"
  reassign when unanswered 5m -> desk
}
"""


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@cache
def compiled(text: str) -> CompiledPolicy:
    return compile_policy(load_policy(text))


def route(minutes: float, contact: str, **attrs) -> Event:
    return Event(at(minutes), EventType.ROUTE.value, contact=contact, attrs=attrs)


def status(minutes: float, user: str, new_status: str) -> Event:
    return Event(at(minutes), EventType.STATUS.value, user=user, status=new_status)


def reply(minutes: float, contact: str, user: str) -> Event:
    return Event(at(minutes), EventType.REPLY.value, contact=contact, user=user)


def row(minutes: float, contact: str, route_name: str | None, outcome: str, user=None, reason=None, deadline=None):
    due = at(deadline) if deadline is not None else None
    return Decision(contact, route_name, outcome.value, user, reason and str(reason), due, at(minutes))


def assigned(minutes, contact, route_name, user, reason="round_robin") -> Decision:
    return row(minutes, contact, route_name, ASSIGNED, user, reason)


def released(minutes, contact, route_name, user, reason) -> Decision:
    return row(minutes, contact, route_name, RELEASED, user, reason)


@dataclass(frozen=True)
class Scenario:
    events: tuple[Event, ...]
    rows: tuple[Decision, ...]  # what SPEC 4.1 says the engine writes
    until: datetime
    users: tuple[UserRecord, ...] = (UserRecord("u1", "online"), UserRecord("u2", "online"))
    memberships: tuple[tuple[str, str], ...] = (("Desk", "u1"), ("Desk", "u2"))
    policy: str = DESK

    def run(self, rows: tuple[Decision, ...] | None = None) -> Run:
        snapshot = Snapshot(self.users, self.memberships)
        return Run(compiled(self.policy), snapshot, self.events, self.rows if rows is None else rows, self.until)

    def with_row(self, index: int, **changes) -> tuple[Decision, ...]:
        rows = list(self.rows)
        rows[index] = replace(rows[index], **changes)
        return tuple(rows)

    def without(self, *indexes: int) -> tuple[Decision, ...]:
        return tuple(r for index, r in enumerate(self.rows) if index not in indexes)

    def plus(self, index: int, extra: Decision) -> tuple[Decision, ...]:
        return self.rows[:index] + (extra,) + self.rows[index:]


def findings(scenario: Scenario, rows: tuple[Decision, ...] | None = None) -> list[tuple[str, str]]:
    return [(finding.property, finding.message) for finding in walk(scenario.run(rows)).findings]


def holds(scenario: Scenario) -> None:
    """The spec's rows satisfy the model, and the engine writes them: in memory, by `rota replay`, with `--db`."""
    assert findings(scenario) == []
    engine_run = run_engine(compiled(scenario.policy), scenario.run().snapshot, scenario.events, scenario.until)
    assert engine_run.decisions == scenario.rows
    assert walk(engine_run).findings == []  # the engine's final state (holders, queue, counts) too
    with tempfile.TemporaryDirectory() as directory:
        files = scenario.run().write(directory, scenario.policy)
        for durable in ([], ["--db", str(Path(directory) / "engine.duckdb")]):
            assert main([*files.replay_arguments(), *durable]) == 0
            replayed = [json.loads(line) for line in files.out.read_text(encoding="utf-8").splitlines()]
            assert replayed == [decision.row() for decision in scenario.rows], durable
        for split in range(1, len(scenario.events)):
            assert reopened_between(scenario, split, Path(directory) / f"split-{split}.duckdb") == scenario.rows


def reopened_between(scenario: Scenario, split: int, path: Path) -> tuple[Decision, ...]:
    """The decisions of a durable engine closed after the first `split` events and reopened for the rest:
    its timers and released users come back from the file."""
    events = scenario.run().ordered_events()
    durable = DurableEngine.open(path, scenario.policy, scenario.run().snapshot.roster())
    for event in events[:split]:
        durable.handle(event)
    durable.close()
    durable = DurableEngine.open(path)
    for event in events[split:]:
        durable.handle(event)
    durable.advance(scenario.until)
    durable.close()
    durable = DurableEngine.open(path)
    try:
        return tuple(durable.logged())
    finally:
        durable.close()


def caught(scenario: Scenario, rows: tuple[Decision, ...], prop: str, words: str) -> None:
    """A run that breaks the sentence: the model notes it under `prop`, in words that say why."""
    found = findings(scenario, rows)
    assert any(p == prop and words in message for p, message in found), found


# ---- "A route's reassign options watch the contacts it assigns (by routing, a drain or a branch;
# ---- `assign to user` included) for as long as the assignee holds them."


def test_a_contact_assigned_by_routing_is_watched():
    scenario = Scenario(
        (route(0, "c1"),),
        (assigned(0, "c1", "desk", "u1"), released(5, "c1", "desk", "u1", UNANSWERED), assigned(5, "c1", "desk", "u2")),
        at(6),
    )
    holds(scenario)
    caught(scenario, scenario.rows[:1], RELEASES, "was still with u1 at 2026-11-25T09:06:00Z, past the")


def test_a_contact_assigned_by_a_drain_is_watched():
    scenario = Scenario(
        (status(0, "u1", "offline"), status(0, "u2", "offline"), route(1, "c1"), status(2, "u2", "online")),
        (
            row(1, "c1", "desk", QUEUED, deadline=31),
            assigned(2, "c1", "desk", "u2"),
            released(7, "c1", "desk", "u2", UNANSWERED),
            row(7, "c1", "desk", QUEUED, deadline=37),  # u1 offline, u2 released: nobody
        ),
        at(8),
    )
    holds(scenario)
    caught(scenario, scenario.rows[:2], RELEASES, "past the `reassign when unanswered` timer of contact c1")


def test_a_contact_assigned_by_a_branch_is_watched_by_the_branch_route():
    scenario = Scenario(
        (route(0, "c1", last_agent="u1"), status(1, "u1", "away")),
        (
            assigned(0, "c1", "sticky", "u1", "user"),
            released(11, "c1", "sticky", "u1", AWAY),
            assigned(11, "c1", "desk", "u2"),  # the branch `-> desk`, watched by desk's `unanswered 5m`
            released(16, "c1", "desk", "u2", UNANSWERED),
            row(16, "c1", "desk", QUEUED, deadline=46),
        ),
        at(17),
    )
    holds(scenario)
    caught(
        scenario, scenario.rows[:3], RELEASES, "past the `reassign when unanswered` timer of contact c1 (route `desk`)"
    )


def test_as_long_as_the_assignee_holds_them():
    scenario = Scenario(
        (route(0, "c1"), Event(at(2), EventType.CLOSE.value, contact="c1")), (assigned(0, "c1", "desk", "u1"),), at(9)
    )
    holds(scenario)
    caught(
        scenario,
        scenario.rows + (released(5, "c1", "desk", "u1", UNANSWERED),),
        RELEASES,
        "had no `reassign when unanswered` timer",
    )


# ---- "`reassign when unanswered D`: set to the assignment's instant + D. A `reply` event for the contact by
# ---- its current assignee clears it for good (for this assignment); a reply by anyone else changes nothing."


def test_unanswered_is_set_to_the_assignment_instant_plus_d():
    scenario = Scenario(
        (route(0, "c1"),),
        (assigned(0, "c1", "desk", "u1"), released(5, "c1", "desk", "u1", UNANSWERED), assigned(5, "c1", "desk", "u2")),
        at(5),
    )
    holds(scenario)
    caught(scenario, scenario.with_row(1, at=at(4)), RELEASES, "its timer was due at 2026-11-25T09:05:00Z")


def test_a_reply_by_the_assignee_clears_it_for_good():
    scenario = Scenario((route(0, "c1"), reply(3, "c1", "u1")), (assigned(0, "c1", "desk", "u1"),), at(60))
    holds(scenario)
    caught(
        scenario,
        scenario.rows + (released(5, "c1", "desk", "u1", UNANSWERED), assigned(5, "c1", "desk", "u2")),
        RELEASES,
        "no `reassign when unanswered` timer",
    )


def test_a_reply_by_anyone_else_changes_nothing():
    scenario = Scenario(
        (route(0, "c1"), reply(3, "c1", "u2")),
        (assigned(0, "c1", "desk", "u1"), released(5, "c1", "desk", "u1", UNANSWERED), assigned(5, "c1", "desk", "u2")),
        at(5),
    )
    holds(scenario)
    caught(scenario, scenario.rows[:1], RELEASES, "past the `reassign when unanswered` timer")


# ---- "`reassign when away D`: runs while the assignee is not online (status `away` or `offline`, or deleted).
# ---- It is set to the instant the assignee stopped being online + D (the assignment's instant, if the
# ---- assignee was not online then) and cleared when the assignee comes back online; going from `away` to
# ---- `offline` keeps it as it was. Status changes count from `status` and `user` events alike."

STICKY_ROWS = (assigned(0, "c1", "sticky", "u1", "user"),)


def away_release(minutes: float) -> tuple[Decision, ...]:
    return (released(minutes, "c1", "sticky", "u1", AWAY), assigned(minutes, "c1", "desk", "u2"))


def test_away_is_set_to_when_the_assignee_stopped_being_online_plus_d():
    scenario = Scenario(
        (route(0, "c1", last_agent="u1"), status(2, "u1", "away")), STICKY_ROWS + away_release(12), at(12)
    )
    holds(scenario)
    caught(scenario, STICKY_ROWS + away_release(10), RELEASES, "its timer was due at 2026-11-25T09:12:00Z")


def test_away_is_set_to_the_assignment_instant_when_the_assignee_was_not_online_then():
    users = (UserRecord("u1", "offline"), UserRecord("u2", "online"))
    scenario = Scenario((route(0, "c1", last_agent="u1"),), STICKY_ROWS + away_release(10), at(10), users)
    holds(scenario)
    caught(scenario, STICKY_ROWS, RELEASES, "past the `reassign when away` timer of contact c1 (route `sticky`)")


def test_away_is_cleared_when_the_assignee_comes_back_online():
    events = (
        route(0, "c1", last_agent="u1"),
        status(2, "u1", "away"),
        status(5, "u1", "online"),
        status(20, "u1", "away"),
    )
    scenario = Scenario(events, STICKY_ROWS + away_release(30), at(30))  # set again at 20: due at 30
    holds(scenario)
    caught(scenario, STICKY_ROWS + away_release(12), RELEASES, "no `reassign when away` timer")


def test_away_to_offline_keeps_it_as_it_was():
    events = (route(0, "c1", last_agent="u1"), status(2, "u1", "away"), status(6, "u1", "offline"))
    scenario = Scenario(events, STICKY_ROWS + away_release(12), at(12))
    holds(scenario)
    caught(
        scenario,
        STICKY_ROWS + away_release(16),
        RELEASES,
        "timer of contact c1 (route `sticky`), due at 2026-11-25T09:12",
    )


def test_deleted_counts_as_not_online():
    events = (route(0, "c1", last_agent="u1"), Event(at(3), EventType.DELETE.value, user="u1"))
    scenario = Scenario(events, STICKY_ROWS + away_release(13), at(13))
    holds(scenario)
    caught(scenario, STICKY_ROWS, RELEASES, "past the `reassign when away` timer")


def test_status_changes_count_from_user_events_too():
    events = (route(0, "c1", last_agent="u1"), Event(at(2), EventType.USER.value, user="u1", attrs={"status": "away"}))
    scenario = Scenario(events, STICKY_ROWS + away_release(12), at(12))
    holds(scenario)
    caught(scenario, STICKY_ROWS, RELEASES, "past the `reassign when away` timer")


# ---- "Every new assignment of the contact sets its timers afresh from the route that assigned it. A contact's
# ---- timers are cleared when it is closed, unassigned or queued; a decision that changes nothing for it
# ---- (`failed`, `no_route`) leaves them as they were. Releases move no round-robin cursor."


def test_a_new_assignment_sets_its_timers_afresh_from_the_route_that_assigned_it():
    memberships = (("Desk", "u1"), ("Desk", "u2"), ("Night", "u1"))
    events = (route(0, "c1"), route(3, "c1", night=True))
    policy = DESK.replace("route night {", "route night when contact.night == true {").replace(
        "route desk {", "route desk when contact.night == null {"
    )
    scenario = Scenario(
        events,
        (
            assigned(0, "c1", "desk", "u1"),
            assigned(3, "c1", "night", "u1"),
            released(8, "c1", "night", "u1", UNANSWERED),
            assigned(8, "c1", "desk", "u2"),  # night's branch `-> desk`
        ),
        at(8),
        memberships=memberships,
        policy=policy,
    )
    holds(scenario)
    caught(
        scenario,
        scenario.plus(2, released(5, "c1", "desk", "u1", UNANSWERED)),
        RELEASES,
        "no `reassign when unanswered` timer",
    )


def test_timers_are_cleared_when_the_contact_is_unassigned():
    scenario = Scenario(
        (route(0, "c1"), route(2, "c1", gone=True)),
        (assigned(0, "c1", "desk", "u1"), row(2, "c1", "gone", UNASSIGNED)),
        at(9),
    )
    holds(scenario)
    caught(
        scenario,
        scenario.rows + (released(5, "c1", "desk", "u1", UNANSWERED),),
        RELEASES,
        "no `reassign when unanswered` timer",
    )


def test_timers_are_cleared_when_the_contact_is_queued():
    events = (route(0, "c1"), status(1, "u1", "offline"), status(1, "u2", "offline"), route(2, "c1"))
    scenario = Scenario(
        events,
        (assigned(0, "c1", "desk", "u1"), row(2, "c1", "desk", QUEUED, deadline=32)),  # it keeps u1 meanwhile
        at(9),
    )
    holds(scenario)
    caught(
        scenario,
        scenario.rows + (released(5, "c1", "desk", "u1", UNANSWERED),),
        RELEASES,
        "no `reassign when unanswered` timer",
    )


def test_a_failed_decision_leaves_the_timers_as_they_were():
    scenario = Scenario(
        (route(0, "c1"), route(2, "c1", retry=True)),
        (
            assigned(0, "c1", "desk", "u1"),
            row(2, "c1", "retry", FAILED, reason="user_not_found"),
            released(5, "c1", "desk", "u1", UNANSWERED),
            assigned(5, "c1", "desk", "u2"),
        ),
        at(5),
    )
    holds(scenario)
    caught(scenario, scenario.rows[:2], RELEASES, "past the `reassign when unanswered` timer")


def test_releases_move_no_round_robin_cursor():
    users = (UserRecord("u1", "online"), UserRecord("u2", "online"), UserRecord("u3", "online"))
    memberships = (("Desk", "u1"), ("Desk", "u2"), ("Desk", "u3"))
    scenario = Scenario(
        (route(0, "c1"), route(1, "c2")),
        (
            assigned(0, "c1", "desk", "u1"),
            assigned(1, "c2", "desk", "u2"),
            released(5, "c1", "desk", "u1", UNANSWERED),
            assigned(5, "c1", "desk", "u3"),  # the cursor is still u2, where c2's assignment left it
            released(6, "c2", "desk", "u2", UNANSWERED),
            assigned(6, "c2", "desk", "u1"),  # after u3, wrapping around
        ),
        at(6),
        users,
        memberships,
    )
    holds(scenario)
    caught(scenario, scenario.with_row(3, user="u2"), ROUND_ROBIN_TURNS, "it was u3's turn")


# ---- "When the clock reaches a release timer: a row `released` (route: the route whose option fired; user: the
# ---- assignee; reason: `unanswered` or `away`); the assignee loses the contact (its `open_contacts` falls by one)
# ---- and joins the contact's released users; then the branch runs at that instant, as a timeout branch does
# ---- [...]. Then the drain."

RELEASE_AT_5 = Scenario(
    (route(0, "c1"),),
    (assigned(0, "c1", "desk", "u1"), released(5, "c1", "desk", "u1", UNANSWERED), assigned(5, "c1", "desk", "u2")),
    at(5),
)


def test_the_released_row_names_the_route_whose_option_fired_the_assignee_and_the_trigger():
    holds(RELEASE_AT_5)
    caught(RELEASE_AT_5, RELEASE_AT_5.with_row(1, route="night"), RELEASES, "of route `desk`")
    caught(RELEASE_AT_5, RELEASE_AT_5.with_row(1, user="u2"), RELEASES, "the released user is the assignee, u1")
    caught(RELEASE_AT_5, RELEASE_AT_5.with_row(1, reason="away"), RELEASES, "had no `reassign when away` timer")


def test_the_assignee_loses_the_contact_and_the_drain_follows():
    """u1 takes one contact at a time: released from c1, it is free for c2, which the drain gives it."""
    policy = DESK.replace("  only online\n", "  only online\n  only open < 1\n")
    scenario = Scenario(
        (status(0, "u2", "offline"), route(0, "c1"), route(1, "c2")),
        (
            assigned(0, "c1", "desk", "u1"),
            row(1, "c2", "desk", QUEUED, deadline=31),  # u1 holds one, u2 offline
            released(5, "c1", "desk", "u1", UNANSWERED),
            row(5, "c1", "desk", QUEUED, deadline=35),  # the branch: u1 released, u2 offline
            assigned(5, "c2", "desk", "u1"),  # the drain: u1 holds none now
        ),
        at(5),
        policy=policy,
    )
    holds(scenario)
    caught(scenario, scenario.rows[:4], QUEUE_ORDER, "contact c2 stayed queued under `desk` although u1")


def test_a_branch_to_a_route_routes_by_its_action_without_its_when():
    scenario = Scenario(
        (route(0, "c1", last_agent="u1"), status(1, "u1", "away")),
        STICKY_ROWS + away_release(11),  # `desk` has no `when`; `night`'s would not matter either
        at(11),
    )
    holds(scenario)
    caught(
        scenario,
        STICKY_ROWS + (released(11, "c1", "sticky", "u1", AWAY), assigned(11, "c1", "sticky", "u2")),
        ELIGIBILITY,
        "branches to `desk`",
    )


def test_a_branch_runs_the_failure_checks():
    policy = DESK.replace("reassign when away 10m -> desk", "reassign when away 10m -> night")
    scenario = Scenario(
        (route(0, "c1", last_agent="u1"), status(1, "u1", "away")),
        STICKY_ROWS + (released(11, "c1", "sticky", "u1", AWAY), row(11, "c1", "night", FAILED, reason="team_empty")),
        at(11),
        policy=policy,
    )
    holds(scenario)
    with_night = replace(scenario, memberships=scenario.memberships + (("Night", "u2"),))
    caught(with_night, scenario.rows, ELIGIBILITY, "the pool was not empty: u2")


def test_the_unassign_branch_writes_unassigned_with_the_route_whose_option_fired():
    policy = DESK.replace("reassign when away 10m -> desk", "reassign when away 10m -> unassign")
    scenario = Scenario(
        (route(0, "c1", last_agent="u1"), status(1, "u1", "away")),
        STICKY_ROWS + (released(11, "c1", "sticky", "u1", AWAY), row(11, "c1", "sticky", UNASSIGNED)),
        at(11),
        policy=policy,
    )
    holds(scenario)
    caught(
        scenario,
        scenario.with_row(2, outcome=ASSIGNED.value, user="u2", reason="round_robin"),
        RELEASES,
        "branches to `unassign`",
    )


def test_with_no_branch_the_route_that_assigned_the_contact_routes_it_again():
    holds(RELEASE_AT_5)
    caught(
        RELEASE_AT_5, RELEASE_AT_5.with_row(2, route="night"), ELIGIBILITY, "the release by `desk` branches to `desk`"
    )
    caught(RELEASE_AT_5, RELEASE_AT_5.without(2), CONSERVATION, "no decision followed the release of c1")


# ---- "Released users are never candidates for that contact (section 3), queued or not, until it is closed or
# ---- receives a `route` event (whether it is queued, held or neither), which empties its released users. A pool
# ---- that runs out of users who were not released queues the contact, and its timeout then applies."


def test_a_released_user_is_never_a_candidate_for_that_contact():
    caught(
        RELEASE_AT_5,
        RELEASE_AT_5.with_row(2, user="u1"),
        ELIGIBILITY,
        "u1 was not eligible (released from this contact)",
    )


def test_a_user_route_to_a_released_user_fails_user_released():
    policy = DESK.replace("reassign when away 10m -> desk", "reassign when away 10m -> retry")
    scenario = Scenario(
        (route(0, "c1", last_agent="u1"), status(1, "u1", "away")),
        STICKY_ROWS
        + (released(11, "c1", "sticky", "u1", AWAY), row(11, "c1", "retry", FAILED, reason="user_released")),
        at(11),
        policy=policy,
    )
    holds(scenario)
    caught(
        scenario,
        scenario.with_row(2, outcome=ASSIGNED.value, user="u1", reason="user"),
        ELIGIBILITY,
        "it fails with user_released",
    )


def test_a_pool_run_out_of_users_not_released_queues_the_contact_and_its_timeout_applies():
    scenario = Scenario(
        (route(0, "c1"),),
        (
            assigned(0, "c1", "desk", "u1"),
            released(5, "c1", "desk", "u1", UNANSWERED),
            assigned(5, "c1", "desk", "u2"),
            released(10, "c1", "desk", "u2", UNANSWERED),
            row(10, "c1", "desk", QUEUED, deadline=40),  # both online, both released
            row(40, "c1", "desk", TIMED_OUT),
            row(40, "c1", "desk", FAILED, reason="timeout"),
        ),
        at(60),
    )
    holds(scenario)
    caught(scenario, scenario.without(5, 6), DEADLINES, "past its deadline")


def test_a_route_event_empties_the_released_users_even_while_queued():
    scenario = Scenario(
        (route(0, "c1"), route(12, "c1")),
        (
            assigned(0, "c1", "desk", "u1"),
            released(5, "c1", "desk", "u1", UNANSWERED),
            assigned(5, "c1", "desk", "u2"),
            released(10, "c1", "desk", "u2", UNANSWERED),
            row(10, "c1", "desk", QUEUED, deadline=40),
            assigned(12, "c1", "desk", "u1"),  # queued, so no row of its own; the drain after it places it
        ),
        at(12),
    )
    holds(scenario)
    caught(scenario, scenario.rows[:5], QUEUE_ORDER, "stayed queued under `desk` although u1")


# ---- "Timers due at the same instant fire deadlines first (in queue order), then release timers in the order
# ---- they were set (of the two timers one assignment sets, `unanswered` first), each followed by its drain. A
# ---- release timer equal to an event's time fires after the events of that instant, as deadlines do. Rows of a
# ---- release come in this order: `released`, the branch's decision, then the drain."


NIGHT_AND_DESK = """
route night when contact.night == true {
  assign to team "Night"
  only online
  timeout 5m -> unassign
}

route desk {
  assign to team "Desk"
  reassign when unanswered 5m
}
"""


def test_deadlines_fire_before_release_timers_of_the_same_instant():
    scenario = Scenario(
        (route(0, "c2", night=True), route(0, "c1")),
        (
            row(0, "c2", "night", QUEUED, deadline=5),
            assigned(0, "c1", "desk", "u1"),
            row(5, "c2", "night", TIMED_OUT),
            row(5, "c2", "night", UNASSIGNED),
            released(5, "c1", "desk", "u1", UNANSWERED),
            assigned(5, "c1", "desk", "u2"),
        ),
        at(5),
        users=(UserRecord("u1", "online"), UserRecord("u2", "online"), UserRecord("u3", "offline")),
        memberships=(("Desk", "u1"), ("Desk", "u2"), ("Night", "u3")),
        policy=NIGHT_AND_DESK,
    )
    holds(scenario)
    swapped = scenario.rows[:2] + scenario.rows[4:6] + scenario.rows[2:4]
    caught(scenario, swapped, RELEASES, "deadline 2026-11-25T09:05:00Z comes first")


def test_release_timers_of_one_instant_fire_in_the_order_they_were_set():
    users = (UserRecord("u1", "online"), UserRecord("u2", "online"), UserRecord("u3", "online"))
    memberships = (("Desk", "u1"), ("Desk", "u2"), ("Desk", "u3"))
    events = (route(0, "c1"), route(0, "c2", last_agent="u3"), status(0, "u3", "away"))
    policy = DESK.replace("reassign when away 10m -> desk", "reassign when away 5m -> desk")
    scenario = Scenario(
        events,
        (
            assigned(0, "c1", "desk", "u1"),  # unanswered due at 5, set first
            assigned(0, "c2", "sticky", "u3", "user"),  # away set at 0 (u3 goes away), due at 5
            released(5, "c1", "desk", "u1", UNANSWERED),
            assigned(5, "c1", "desk", "u2"),
            released(5, "c2", "sticky", "u3", AWAY),
            assigned(5, "c2", "desk", "u1"),
        ),
        at(5),
        users,
        memberships,
        policy,
    )
    holds(scenario)
    swapped = scenario.rows[:2] + scenario.rows[4:6] + scenario.rows[2:4]
    caught(scenario, swapped, RELEASES, "fires first: timers fire in the order set")


def test_timers_one_status_change_arms_fire_in_the_order_of_the_assignments_that_set_them():
    """(choice) A status change arms its user's `away` timers at one instant: in the order of the assignments."""
    events = (route(0, "c2", last_agent="u1"), route(1, "c1", last_agent="u1"), status(2, "u1", "away"))
    scenario = Scenario(
        events,
        (
            assigned(0, "c2", "sticky", "u1", "user"),
            assigned(1, "c1", "sticky", "u1", "user"),
            released(12, "c2", "sticky", "u1", AWAY),
            assigned(12, "c2", "desk", "u2"),
            released(12, "c1", "sticky", "u1", AWAY),
            assigned(12, "c1", "desk", "u2"),
        ),
        at(12),
    )
    holds(scenario)
    swapped = scenario.rows[:2] + scenario.rows[4:6] + scenario.rows[2:4]
    caught(scenario, swapped, RELEASES, "fires first: timers fire in the order set")


def test_of_the_two_timers_one_assignment_sets_unanswered_fires_first():
    policy = DESK.replace(
        "  reassign when unanswered 5m\n}", "  reassign when unanswered 5m\n  reassign when away 5m\n}", 1
    )
    users = (UserRecord("u1", "away"), UserRecord("u2", "online"))
    memberships = (("Desk", "u1"), ("Desk", "u2"))
    policy = policy.replace("  only online\n", "")
    scenario = Scenario(
        (route(0, "c1"),),
        (assigned(0, "c1", "desk", "u1"), released(5, "c1", "desk", "u1", UNANSWERED), assigned(5, "c1", "desk", "u2")),
        at(5),
        users,
        memberships,
        policy,
    )
    holds(scenario)  # the release clears the `away` timer of the same instant
    caught(scenario, scenario.with_row(1, reason="away"), RELEASES, "fires first: timers fire in the order set")


def test_a_release_timer_equal_to_an_events_time_fires_after_the_events_of_that_instant():
    scenario = Scenario(
        (route(0, "c1"), route(5, "c2")),
        (
            assigned(0, "c1", "desk", "u1"),
            assigned(5, "c2", "desk", "u2"),
            released(5, "c1", "desk", "u1", UNANSWERED),
            assigned(5, "c1", "desk", "u2"),
        ),
        at(5),
    )
    holds(scenario)
    early = (scenario.rows[0], scenario.rows[2], assigned(5, "c1", "desk", "u2"), assigned(5, "c2", "desk", "u1"))
    caught(scenario, early, CONSERVATION, "the route event for c2 at 2026-11-25T09:05:00Z got no decision")


def test_a_reply_at_the_instant_the_timer_is_due_still_clears_it():
    scenario = Scenario((route(0, "c1"), reply(5, "c1", "u1")), (assigned(0, "c1", "desk", "u1"),), at(9))
    holds(scenario)


def test_the_rows_of_a_release_are_released_the_branch_then_the_drain():
    rows = RELEASE_AT_5.rows
    caught(RELEASE_AT_5, (rows[0], rows[2], rows[1]), CONSERVATION, "no event or timeout of the run caused this")


def test_the_releases_property_raises_on_a_run_the_model_catches():
    check_releases(RELEASE_AT_5.run())
    with pytest.raises(ReleasesViolation, match="release timers fire when due"):
        check_releases(RELEASE_AT_5.run(RELEASE_AT_5.rows[:1]))


def test_rota_log_shows_the_released_rows_of_an_engine_file(tmp_path, capsys):
    files = RELEASE_AT_5.run().write(tmp_path, RELEASE_AT_5.policy)
    database = tmp_path / "engine.duckdb"
    assert main([*files.replay_arguments(), "--db", str(database)]) == 0
    capsys.readouterr()
    assert main(["log", "--db", str(database), "--outcome", "released", "--format", "json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(row["contact"], row["route"], row["user"], row["reason"]) for row in rows] == [
        ("c1", "desk", "u1", "unanswered")
    ]


# ---- The `reply` event (SPEC 5.1): "clears its `unanswered` timer if the user is its assignee; nothing else."

NO_REASSIGN = compile_policy(
    load_policy(
        'route vip when "vip" in contact.tags {\n  assign to team "VIP"\n  only online\n  timeout 10m\n}\n'
        "route desk {\n  assign to space\n  using least_open\n}\n"
    )
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(run=runs(NO_REASSIGN, replies=True))
def test_reply_events_change_nothing_where_no_route_reassigns(run):
    """Replies in the log (opted in), no `reassign` in the policy: the runs hold every property, releases too."""
    check_run(run)


# ---- The engine agrees with the model on generated runs: every path that picks a user (static, live
# ---- caps, indexed filters, `assign to user`), every kind of branch, replies and presence changes.

GENERATED = {
    "caps and branches": """
route sticky when contact.last_agent != null {
  assign to user contact.last_agent
  reassign when away 5m -> alpha
  reassign when unanswered 20m -> unassign
}

route alpha when contact.tier == 1 {
  assign to team "Alpha"
  only online
  only open < 3
  timeout 30m -> anyone
  reassign when unanswered 5m
}

route anyone {
  assign to space
  using least_open
  only status != "offline"
  timeout 1h
  reassign when unanswered 10m -> alpha
  reassign when away 1m
}
""",
    "indexed and static": """
route again when contact.last_agent != null {
  assign to user contact.last_agent
  reassign when unanswered 5m -> anyone
}

route anyone {
  assign to space
  only contact.language in languages
  only open < 2
  reassign when away 5m
  reassign when unanswered 5m -> anyone
}
""",
}


@pytest.mark.parametrize("name", GENERATED)
def test_the_engine_agrees_with_the_model_on_generated_runs_with_reassign_and_replies(name):
    @settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(run=runs(compiled(GENERATED[name]), replies=True))
    def agrees(run):
        check_run(run)

    agrees()
