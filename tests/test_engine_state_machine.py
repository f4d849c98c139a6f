"""SPEC 4: the living engine, driven by random events, checked after every step.

A hypothesis state machine sends route/status/close/user/delete/join/leave
events and lets time pass; after each step the invariants must hold:
every contact in exactly one state, counts equal to what users hold,
queue order and deadlines, and no queued contact that could be assigned.
"""

from datetime import datetime, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from rota.dsl.ast import (
    AssignToSpace,
    AssignToTeam,
    AssignToUser,
    Compare,
    Field,
    Literal,
    Only,
    Policy,
    Priority,
    Route,
    Timeout,
    Using,
)
from rota.engine import Engine, Event, compile_policy
from rota.testing import EngineState, Run, Snapshot, UserRecord, check_run

START = datetime(2026, 11, 25, 9, 0)
USERS = ["ann", "bob", "cyd", "dee"]
CONTACTS = [f"c{i}" for i in range(8)]

POLICY = compile_policy(
    Policy(
        routes=(
            Route(
                "sticky",
                Compare("!=", Field("contact", "last_agent"), Literal(None)),
                AssignToUser(Field("contact", "last_agent")),
            ),
            Route(
                "vip",
                Compare("in", Literal("vip"), Field("contact", "tags")),
                AssignToTeam("VIP"),
                (
                    Using("least_open"),
                    Only(Field("user", "online")),
                    Only(Compare("<", Field("user", "open"), Literal(2))),
                    Priority(5),
                    Timeout(600, "general"),
                ),
            ),
            Route(
                "spanish",
                Compare("==", Field("contact", "language"), Literal("es")),
                AssignToTeam("ES"),
                (Only(Field("user", "online")), Timeout(900, "unassign")),
            ),
            Route(
                "general",
                None,
                AssignToSpace(),
                (
                    Using("round_robin"),
                    Only(Field("user", "online")),
                    Only(Compare("<", Field("user", "open"), Literal(3))),
                    Timeout(1800),
                ),
            ),
        )
    )
)


SNAPSHOT = Snapshot(
    tuple(UserRecord(user_id, "online" if user_id == "dee" else "offline") for user_id in USERS),
    (("VIP", "ann"), ("VIP", "bob"), ("ES", "cyd")),
)


class EngineMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.engine = Engine(POLICY, SNAPSHOT.roster())
        self.now = START
        self.events = []
        self.decisions = []

    def send(self, **fields):
        self.events.append(Event(at=self.now, **fields))
        self.decisions += self.engine.handle(self.events[-1])

    def teardown(self):
        """The whole run, judged by rota.testing's own model of SPEC 3 and 4: eligibility, round-robin
        turns and balance, least-open, conservation, deadlines and queue order at every decision."""
        check_run(Run(POLICY, SNAPSHOT, tuple(self.events), tuple(self.decisions), final=EngineState.of(self.engine)))

    @rule(
        contact=st.sampled_from(CONTACTS),
        tags=st.sampled_from([[], ["vip"]]),
        language=st.sampled_from([None, "es", "en"]),
        last_agent=st.sampled_from([None, None, "ann", "zed"]),
    )
    def route(self, contact, tags, language, last_agent):
        self.send(type="route", contact=contact, attrs={"tags": tags, "language": language, "last_agent": last_agent})

    @rule(user=st.sampled_from(USERS), status=st.sampled_from(["online", "away", "offline"]))
    def status(self, user, status):
        self.send(type="status", user=user, status=status)

    @rule(contact=st.sampled_from(CONTACTS))
    def close(self, contact):
        self.send(type="close", contact=contact)

    @rule(user=st.sampled_from(USERS + ["eve"]), team=st.sampled_from(["VIP", "ES"]), joining=st.booleans())
    def membership(self, user, team, joining):
        self.send(type="join" if joining else "leave", user=user, team=team)

    @rule(user=st.sampled_from(["eve", "fay"]), status=st.sampled_from(["online", "offline"]))
    def new_user(self, user, status):
        self.send(type="user", user=user, attrs={"status": status})

    @precondition(lambda self: len([u for u in self.engine.roster.users.values() if not u.deleted]) > 2)
    @rule(user=st.sampled_from(USERS))
    def delete(self, user):
        self.send(type="delete", user=user)

    @rule(minutes=st.sampled_from([0, 1, 5, 10, 15, 30, 60]))
    def time_passes(self, minutes):
        self.now += timedelta(minutes=minutes)
        self.decisions += self.engine.advance(self.now, inclusive=False)

    @invariant()
    def counts_equal_what_users_hold(self):
        held = {user_id: 0 for user_id in self.engine.roster.users}
        for state in self.engine.contacts.values():
            if not state.closed and state.contact.assignee in held:
                held[state.contact.assignee] += 1
        assert {u.id: u.open for u in self.engine.roster.users.values()} == held

    @invariant()
    def every_contact_in_one_state(self):
        queue = self.engine.queue
        for contact_id, state in self.engine.contacts.items():
            assert not (state.closed and contact_id in queue), "a closed contact is still queued"
        assert set(queue.entries) <= set(self.engine.contacts)
        assert sum(len(klass.entries) for klass in queue.classes.values()) == len(queue)

    @invariant()
    def queue_deadlines_within_seven_days_and_not_past(self):
        for entry in self.engine.queue.entries.values():
            assert entry.enqueued_at < entry.deadline <= entry.enqueued_at + timedelta(days=7)
            assert entry.deadline >= self.now, "a queued contact waited past its deadline"

    @invariant()
    def no_queued_contact_could_be_assigned(self):
        router = self.engine.router
        for entry in self.engine.queue.entries.values():
            route = POLICY.route_named(entry.route)
            contact = self.engine.contacts[entry.contact].contact
            assert not router.candidates(route, contact, self.now), f"{entry.contact} could be assigned"

    @invariant()
    def decisions_are_in_time_order_and_never_ineligible(self):
        times = [decision.at for decision in self.decisions]
        assert times == sorted(times)
        for decision in self.decisions:
            if decision.outcome == "assigned" and decision.reason != "user":
                assert decision.user in self.engine.roster.users


EngineMachine.TestCase.settings = settings(
    max_examples=300, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestEngineStateMachine = EngineMachine.TestCase
