"""rota.testing: every property check passes on the engine and fails on a run that breaks it.

Each check is shown failing twice where it can be: on a doctored run (one
decision changed, dropped or moved) and on a real engine variant, built
only from the engine's public API.
"""

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from engine_variants import TurnSkippingEngine
from hypothesis import HealthCheck, given, settings

from rota.dsl import load_policy
from rota.engine import Engine, Event, compile_policy
from rota.testing import (
    PROPERTIES,
    ConservationViolation,
    DeadlinesViolation,
    EligibilityViolation,
    LeastOpenViolation,
    QueueOrderViolation,
    RoundRobinBalanceViolation,
    RoundRobinTurnsViolation,
    Snapshot,
    UserRecord,
    check_conservation,
    check_deadlines,
    check_eligibility,
    check_least_open,
    check_queue_order,
    check_round_robin_balance,
    check_round_robin_turns,
    check_run,
    run_engine,
    runs,
    vocabulary,
)

T0 = datetime(2026, 11, 25, 9, 0)

POLICY = compile_policy(
    load_policy("""
route vip when "vip" in contact.tags {
  assign to team "VIP"
  using least_open
  only online
  priority 5
  timeout 10m -> general
}
route general {
  assign to space
  using round_robin
  only online
  only open < 10
  timeout 30m
}
""")
)

SNAPSHOT = Snapshot(
    users=(
        UserRecord("ann", "online"),
        UserRecord("bob", "online", open=2),
        UserRecord("cyd", "online"),
        UserRecord("dee", "offline"),
    ),
    memberships=(("VIP", "ann"), ("VIP", "bob"), ("VIP", "dee")),
)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def route(minutes: float, contact: str, *tags: str) -> Event:
    return Event(at(minutes), "route", contact=contact, attrs={"tags": list(tags)})


def status(minutes: float, user: str, new_status: str) -> Event:
    return Event(at(minutes), "status", user=user, status=new_status)


# A morning: round-robin turns, least-open picks, a VIP that times out, a drain in priority order.
EVENTS = (
    route(0, "c1", "vip"),
    route(0, "c2"),
    route(1, "c3"),
    route(2, "c4"),
    route(3, "c5"),
    route(4, "c6", "vip"),
    status(5, "ann", "offline"),
    status(5, "bob", "offline"),
    status(5, "cyd", "offline"),
    route(6, "c7", "vip"),
    route(7, "c8"),
    Event(at(8), "close", contact="c2"),
    route(9, "c9"),
    route(18, "c11", "vip"),
    status(20, "bob", "online"),
    route(60, "c10"),
)


def morning(engine_factory=Engine):
    return run_engine(POLICY, SNAPSHOT, EVENTS, at(90), engine_factory)


def index_of(run, predicate) -> int:
    return next(index for index, row in enumerate(run.decisions) if predicate(row))


def with_row(run, index, **changes):
    rows = list(run.decisions)
    rows[index] = replace(rows[index], **changes)
    return replace(run, decisions=tuple(rows), final=None)


def without_rows(run, *indexes):
    return replace(run, decisions=tuple(row for i, row in enumerate(run.decisions) if i not in indexes), final=None)


def test_the_morning_passes_every_check_and_covers_every_outcome():
    run = morning()
    check_run(run)
    outcomes = {(row.outcome, row.reason) for row in run.decisions}
    assert {("assigned", "least_open"), ("assigned", "round_robin"), ("queued", None), ("timed_out", None)} <= outcomes


# ----------------------------------------------------------------- doctored


def test_eligibility_fails_when_a_decision_goes_to_an_offline_user():
    run = morning()
    index = index_of(run, lambda row: row.reason == "round_robin")
    with pytest.raises(EligibilityViolation, match=r"dee was not eligible .*status offline.*fails `only online`"):
        check_eligibility(with_row(run, index, user="dee"))


def test_eligibility_fails_when_a_contact_is_queued_while_someone_is_free():
    run = morning()
    index = index_of(run, lambda row: row.reason == "round_robin")
    doctored = with_row(run, index, outcome="queued", user=None, reason=None, deadline=at(30))
    with pytest.raises(EligibilityViolation, match="queued although"):
        check_eligibility(doctored)


def test_least_open_fails_on_a_candidate_with_more_open_contacts():
    run = morning()
    index = index_of(run, lambda row: row.reason == "least_open")
    assert run.decisions[index].user == "ann"  # bob has two open contacts
    with pytest.raises(LeastOpenViolation, match=r"expected ann.*bob \(open 2"):
        check_least_open(with_row(run, index, user="bob"))
    check_eligibility(with_row(run, index, user="bob"))  # bob was eligible: only least-open is broken


def test_round_robin_turns_fail_when_a_turn_is_skipped():
    run = morning()
    first, second = [i for i, row in enumerate(run.decisions) if row.reason == "round_robin"][:2]
    skipped = run.decisions[first].user
    with pytest.raises(RoundRobinTurnsViolation, match=f"it was {run.decisions[second].user}'s turn"):
        check_round_robin_turns(with_row(run, second, user=skipped))


def test_round_robin_balance_fails_when_one_user_takes_every_contact():
    run = morning()
    picks = [i for i, row in enumerate(run.decisions) if row.reason == "round_robin"][:3]
    doctored = run
    for index in picks:
        doctored = with_row(doctored, index, user=run.decisions[picks[0]].user)
    with pytest.raises(RoundRobinBalanceViolation, match="had the same candidates throughout"):
        check_round_robin_balance(doctored)


def test_conservation_fails_when_a_routed_contact_gets_no_decision():
    run = morning()
    index = index_of(run, lambda row: row.contact == "c3")
    with pytest.raises(ConservationViolation, match="route event for c3 .* got no decision"):
        check_conservation(without_rows(run, index))


def test_conservation_fails_when_the_engine_state_disagrees_with_the_decisions():
    run = morning()
    final = replace(run.final, assignees={**run.final.assignees, "c3": None})
    with pytest.raises(ConservationViolation, match="contact c3 is held by None in the engine"):
        check_conservation(replace(run, final=final))


def test_deadlines_fail_on_a_late_timeout():
    run = morning()
    index = index_of(run, lambda row: row.outcome == "timed_out")
    late = run.decisions[index].at + timedelta(minutes=1)
    doctored = with_row(with_row(run, index, at=late), index + 1, at=late)
    with pytest.raises(DeadlinesViolation, match="timed out at .*; its deadline was"):
        check_deadlines(doctored)


def test_deadlines_fail_when_a_timeout_never_fires():
    run = morning()
    index = index_of(run, lambda row: row.outcome == "timed_out")
    contact = run.decisions[index].contact
    with pytest.raises(DeadlinesViolation, match=f"contact {contact} .* past its deadline"):
        check_deadlines(without_rows(run, index, index + 1))


def test_queue_order_fails_when_a_drain_places_a_lower_priority_contact_first():
    run = morning()
    first = index_of(run, lambda row: row.outcome == "assigned" and row.at == at(20))
    rows = list(run.decisions)
    assert rows[first + 1].outcome == "assigned" and rows[first + 1].at == at(20), "the drain places two contacts"
    rows[first], rows[first + 1] = rows[first + 1], rows[first]
    with pytest.raises(QueueOrderViolation, match=r"was ahead in the queue and could go to bob"):
        check_queue_order(replace(run, decisions=tuple(rows), final=None))


def test_queue_order_fails_when_a_drain_stops_early():
    run = morning()
    last = index_of(run, lambda row: row.outcome == "assigned" and row.at == at(20)) + 1
    with pytest.raises(QueueOrderViolation, match="stayed queued .* could take it"):
        check_queue_order(without_rows(run, last))


# ---------------------------------------------------------- engine variants


class StatusDeafEngine(Engine):
    """Never hears a user going offline."""

    def handle(self, event):
        if event.type == "status" and event.status != "online":
            return self.advance(event.at, inclusive=False) + self.drain(event.at)
        return super().handle(event)


class ForgetfulCountsEngine(Engine):
    """Closing a contact does not lower its assignee's open count."""

    def handle(self, event):
        state = self.contacts.get(event.contact) if event.type == "close" else None
        holder = self.roster.users.get(state.contact.assignee) if state and state.contact.assignee else None
        open_before = holder.open if holder is not None else None
        decisions = super().handle(event)
        if holder is not None:
            holder.open = open_before
        return decisions


class LateTimeoutsEngine(Engine):
    """Fires each timeout five minutes after its deadline."""

    def advance(self, until, inclusive=True):
        return super().advance(until - timedelta(minutes=5), inclusive)


@pytest.mark.parametrize(
    "engine_factory, violation",
    [
        (TurnSkippingEngine, RoundRobinTurnsViolation),
        (StatusDeafEngine, EligibilityViolation),
        (ForgetfulCountsEngine, ConservationViolation),
        (LateTimeoutsEngine, DeadlinesViolation),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_an_engine_variant_is_caught(engine_factory, violation):
    run = morning(engine_factory)
    prop = next(prop for prop in PROPERTIES if prop.violation is violation)
    with pytest.raises(violation):
        prop.check(run)


def test_least_open_catches_an_engine_that_forgets_closed_contacts():
    events = (route(0, "c1", "vip"), Event(at(1), "close", contact="c1"), route(2, "c2", "vip"))
    snapshot = replace(SNAPSHOT, users=(UserRecord("ann", "online"), UserRecord("bob", "online", open=1)))
    check_least_open(run_engine(POLICY, snapshot, events))
    with pytest.raises(LeastOpenViolation, match="expected ann"):
        check_least_open(run_engine(POLICY, snapshot, events, engine_factory=ForgetfulCountsEngine))


# ------------------------------------------------------------- generated runs


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(run=runs(POLICY))
def test_the_engine_passes_every_check_on_generated_runs(run):
    check_run(run)


def test_the_vocabulary_holds_what_the_policy_reads():
    words = vocabulary(POLICY)
    assert words.teams == ("VIP",)
    assert words.contact_attributes["tags"].is_list and "vip" in words.contact_attributes["tags"].values


def test_a_written_run_reads_back_the_same(tmp_path):
    run = morning()
    files = run.write(tmp_path / "case", "route r { assign to space }\n")
    assert Snapshot.from_directory(files.snapshot).users == SNAPSHOT.users
    assert Snapshot.from_directory(files.snapshot).memberships == tuple(sorted(SNAPSHOT.memberships))


def test_deadlines_fail_when_timeouts_of_one_instant_fire_out_of_queue_order():
    events = (route(0, "c1"), route(0, "c2"), status(0, "ann", "offline"))
    snapshot = Snapshot(users=(UserRecord("ann", "offline"),))
    run = run_engine(POLICY, snapshot, events, at(31))
    timed_out = [index for index, row in enumerate(run.decisions) if row.outcome == "timed_out"]
    assert [run.decisions[index].contact for index in timed_out] == ["c1", "c2"]
    check_deadlines(run)
    rows = list(run.decisions)
    first, second = timed_out
    rows[first : first + 2], rows[second : second + 2] = rows[second : second + 2], rows[first : first + 2]
    with pytest.raises(DeadlinesViolation, match="contact c1, due at the same instant, is ahead in queue order"):
        check_deadlines(replace(run, decisions=tuple(rows), final=None))
