"""`rota explain` (issue 12): an explanation agrees with the engine's own decision, and says why in the user's words.

The property runs generated event logs through the engine and holds every
explanation to it: the explained winner is the engine's chosen user, the
explained route the engine's route, and the users said to survive every
`only` are the engine's candidates at that moment (`Router.candidates`,
the plain path).
"""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from routing_helpers import at, event, roster

from rota.dsl import load_policy
from rota.engine import compile_policy
from rota.explain import Via, explain_run
from rota.explain.run import Explainer, WatchedEngine, record_run, run_events
from rota.testing import event_logs, snapshots, vocabulary
from rota.vocabulary import Outcome

POLICIES = [
    compile_policy(load_policy(text))
    for text in (
        """
route vip when "vip" in contact.tags {
  assign to team "VIP" using least_open only online only open < 2 priority 5 timeout 10m -> general
}
route sticky when contact.last_agent != null { assign to user contact.last_agent }
route general { assign to space using round_robin only online timeout 30m -> unassign }
""",
        """
route spanish when contact.language == "es" {
  assign to team "VIP" using round_robin only open < 3 and status != "offline" timeout 1h
}
route late when now.hour >= 17 { unassign }
route rest { assign to space using least_open only online or open == 0 timeout 20m -> spanish }
""",
    )
]


class CheckingExplainer(Explainer):
    """Explains every decision and notes, beside each, the engine's own candidates at that moment."""

    def __init__(self, wanted, user):
        super().__init__(wanted, user)
        self.engine_candidates: dict[int, list[str]] = {}

    def before(self, call, via, route, router, contact, now):
        super().before(call, via, route, router, contact, now)
        if via == Via.ROUTED:
            route = router.policy.select(contact.fields, router.now_fields(now))
        if route is not None and route.pool_key is not None and call in self.wanted:
            position = self.wanted[call][0]
            self.engine_candidates[position] = [u.id for u in router.candidates(route, contact, now)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_every_explanation_agrees_with_the_engine(data):
    policy = data.draw(st.sampled_from(POLICIES))
    words = vocabulary(policy)
    snapshot = data.draw(snapshots(words))
    log = data.draw(event_logs(words, max_events=15))
    recorded = record_run(policy, snapshot.roster(), log.events, log.until)
    wanted = {call: (position, recorded.decisions[position]) for position, call in recorded.calls.items()}
    explainer = CheckingExplainer(wanted, None)
    run_events(WatchedEngine(policy, snapshot.roster(), explainer), log.events, log.until, lambda: False)
    for position, explanation in explainer.explained.items():
        decision = recorded.decisions[position]
        assert explanation.decision.contact == decision.contact
        taken = explanation.routes[-1] if explanation.routes else None
        if explanation.via == Via.ROUTED:
            assert (taken.route if taken and taken.value else None) == decision.route
        if explanation.pool is not None:
            assert explanation.candidates == explainer.engine_candidates[position]
        if decision.outcome == Outcome.ASSIGNED and explanation.pool is not None:
            assert explanation.tie_break is not None and explanation.tie_break.winner.id == decision.user
        if decision.outcome == Outcome.QUEUED:
            assert explanation.candidates == [] and explanation.nobody


DESK = compile_policy(
    load_policy("""
route vip when "vip" in contact.tags { assign to team "VIP" using least_open only online only open < 2 }
route general { assign to space using round_robin only online }
""")
)
USERS = {"ann": {"open": 1}, "bob": {"status": "away"}, "cyd": {"open": 2}, "dee": {}}


def explained(events, user=None, contact=None):
    return explain_run(
        DESK, roster(USERS, {"VIP": ["ann", "bob", "cyd"]}), events, lambda d: d.contact == contact, user
    )


def test_each_only_says_how_many_it_dropped_and_the_tie_break_names_the_runner_up():
    [explanation] = explained([event(0, "route", contact="c1", attrs={"tags": ["vip"]})], contact="c1")
    assert [(step.only, step.dropped, step.left) for step in explanation.filters] == [
        ("only online", 1, 2),
        ("only open < 2", 1, 1),
    ]
    assert explanation.candidates == ["ann"]
    assert explanation.tie_break.winner.id == "ann" and explanation.tie_break.runner_up is None


def test_a_null_when_names_the_field_that_made_it_null():
    [explanation] = explained([event(0, "route", contact="c1", attrs={})], contact="c1")
    assert [(w.route, w.value, w.null_fields) for w in explanation.routes] == [
        ("vip", None, ["contact.tags"]),
        ("general", True, []),
    ]


def test_with_a_user_it_says_which_filter_dropped_them_and_their_value():
    events = [event(0, "route", contact="c1", attrs={"tags": ["vip"]})]
    assert explained(events, "bob", "c1")[0].user.says == "`only online` dropped bob: online is false"
    assert explained(events, "cyd", "c1")[0].user.values == {"open": 2}
    assert explained(events, "dee", "c1")[0].user.verdict == "not_in_pool"


def test_round_robin_names_the_cursor_and_the_user_who_lost():
    events = [event(0, "route", contact="c1", attrs={}), event(1, "route", contact="c2", attrs={})]
    first, second = explain_run(DESK, roster(USERS), events, lambda d: True, "ann")
    assert (first.tie_break.cursor, first.tie_break.winner.id) == (None, "ann")
    assert (second.tie_break.cursor, second.tie_break.winner.id, second.tie_break.runner_up.id) == ("ann", "cyd", "dee")
    assert second.user.verdict == "lost"


def test_a_queued_contact_says_which_filter_emptied_the_pool_and_its_timeout_row_says_which_timer():
    policy = compile_policy(load_policy('route vip { assign to team "VIP" using least_open only open < 1 timeout 5m }'))
    events = [event(0, "route", contact="c1", attrs={})]
    people = roster(USERS, {"VIP": ["ann", "cyd"]})
    queued, timed_out, failed = explain_run(policy, people, events, lambda d: True, until=at(10))
    assert queued.nobody == '`only open < 1` dropped the last 2 of team "VIP"\'s users'
    assert (
        timed_out.via == Via.TIMER
        and timed_out.timer.wait == "5m"
        and timed_out.timer.started_at == "2026-11-25T09:00:00Z"
    )
    assert failed.decision.reason == "timeout" and failed.nobody
    assert people.users["ann"].open == 1  # the roster given is not changed


def test_the_roster_given_is_left_as_it_was():
    people = roster(USERS)
    before = copy.deepcopy({u.id: u.open for u in people.users.values()})
    explain_run(DESK, people, [event(0, "route", contact="c1", attrs={})], lambda d: True)
    assert {u.id: u.open for u in people.users.values()} == before
