"""Explaining decisions of a run: the engine run twice, the second time stopped just before each wanted decision.

The first run records which call of the router made each decision; the
second runs the same events through the same engine (deterministic, SPEC 4)
and, just before the router makes a wanted decision, reads the state that
decision saw. The engine's own code makes every decision both times: the
router is only watched, never replaced.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from rota.dsl.formatter import format_duration
from rota.engine import CompiledPolicy, Decision, Engine, Event, Roster
from rota.engine.clock import format_instant
from rota.engine.compiler import CompiledRoute
from rota.engine.replay import replay_window
from rota.engine.router import Contact, Router
from rota.vocabulary import Outcome, Verdict

from .build import explain_decision, row_of
from .model import Explanation, Timer, UserVerdict, Via


class Watcher:
    """Told of every decision the router is about to make (`before`) and made (`after`), by call number."""

    def before(
        self, call: int, via: str, route: CompiledRoute | None, router: Router, contact: Contact, now: datetime
    ) -> None:
        """Nothing by default."""

    def after(self, call: int, decision: Decision | None) -> None:
        """Nothing by default."""


class WatchedRouter(Router):
    """The engine's router, unchanged, with each outermost call numbered and shown to a watcher."""

    def __init__(self, policy: CompiledPolicy, roster: Roster, watcher: Watcher):
        super().__init__(policy, roster)
        self.watcher = watcher
        self.calls = 0
        self._inside = False
        self._batch = False

    def route(self, contact: Contact, now: datetime) -> Decision:
        return self._watched(Via.ROUTED, None, contact, now, lambda: super(WatchedRouter, self).route(contact, now))

    def apply(self, route: CompiledRoute, contact: Contact, now: datetime) -> Decision:
        return self._watched(
            Via.BRANCH, route, contact, now, lambda: super(WatchedRouter, self).apply(route, contact, now)
        )

    def unassign(self, route_name: str, contact: Contact, now: datetime) -> Decision:
        # Called from outside only as a timer's `-> unassign` branch: no route's action runs.
        return self._watched(
            Via.BRANCH, None, contact, now, lambda: super(WatchedRouter, self).unassign(route_name, contact, now)
        )

    def place(self, route: CompiledRoute, contact: Contact, now: datetime) -> Decision | None:
        return self._watched(
            Via.DRAIN, route, contact, now, lambda: super(WatchedRouter, self).place(route, contact, now)
        )

    def route_batch(self, contacts: list[Contact], now: datetime) -> list[Decision]:
        self._batch = True  # its `apply` calls route contacts afresh, each with its `when`s tried
        try:
            return super().route_batch(contacts, now)
        finally:
            self._batch = False

    def _watched(self, via, route, contact, now, call):
        if self._batch:
            via = Via.BATCH
        if self._inside:  # route -> apply -> place: one decision, numbered once
            return call()
        number, self.calls = self.calls, self.calls + 1
        self.watcher.before(number, via, route, self, contact, now)
        self._inside = True
        try:
            decision = call()
        finally:
            self._inside = False
        self.watcher.after(number, decision)
        return decision


class WatchedEngine(Engine):
    """The engine of SPEC 4 with a watched router (also after a policy change)."""

    def __init__(self, policy: CompiledPolicy, roster: Roster, watcher: Watcher):
        self.watcher = watcher
        super().__init__(policy, roster)

    def use_policy(self, policy: CompiledPolicy) -> None:
        super().use_policy(policy)
        self.router = WatchedRouter(policy, self.roster, self.watcher)


class CallRecorder(Watcher):
    def __init__(self) -> None:
        self.made: dict[int, int] = {}  # id of each decision the router made -> its call number

    def after(self, call: int, decision: Decision | None) -> None:
        if decision is not None:
            self.made[id(decision)] = call


@dataclass
class RecordedRun:
    """A run's decisions, in order, and for each one the router made, the router call that made it."""

    decisions: list[Decision]
    calls: dict[int, int] = field(default_factory=dict)  # position in `decisions` -> router call number


def run_events(
    engine: Engine, events: Iterable[Event], until: datetime | None, done: Callable[[], bool]
) -> list[Decision]:
    """`rota replay`'s loop (engine/replay.py): the events up to `until`, then the timeouts due by then."""
    ordered, until = replay_window(sorted(events, key=lambda event: event.at), until)
    decisions: list[Decision] = []
    for event in ordered:
        decisions += engine.handle(event)
        if done():
            return decisions
    if until is not None:
        decisions += engine.advance(until, inclusive=True)
    return decisions


def record_run(
    policy: CompiledPolicy, roster: Roster, events: Iterable[Event], until: datetime | None = None
) -> RecordedRun:
    """Run the events (the roster is left as it was) and note which router call made which decision."""
    recorder = CallRecorder()
    engine = WatchedEngine(policy, copy.deepcopy(roster), recorder)
    return recorded_from(run_events(engine, events, until, lambda: False), recorder)


class Explainer(Watcher):
    """Explains the wanted decisions as the second run reaches them."""

    def __init__(self, wanted: dict[int, tuple[int, Decision]], user: str | None):
        self.wanted = wanted  # router call number -> (position, the decision it makes)
        self.user = user
        self.explained: dict[int, Explanation] = {}  # by position

    def before(
        self, call: int, via: str, route: CompiledRoute | None, router: Router, contact: Contact, now: datetime
    ) -> None:
        if call in self.wanted:
            position, decision = self.wanted[call]
            released = contact.released  # SPEC 4.1's released users
            self.explained[position] = explain_decision(
                router, contact, now, decision, via, route, seq=position, user=self.user, released=released
            )

    def done(self) -> bool:
        return len(self.explained) == len(self.wanted)


def explain_recorded(
    policy: CompiledPolicy,
    roster: Roster,
    events: Iterable[Event],
    recorded: RecordedRun,
    positions: Iterable[int],
    user: str | None = None,
    until: datetime | None = None,
) -> list[Explanation]:
    """Explain the decisions at `positions` of a recorded run of the same policy, roster, events and `until`."""
    events = list(events)

    def rerun(explainer: Explainer) -> None:
        run_events(WatchedEngine(policy, copy.deepcopy(roster), explainer), events, until, explainer.done)

    return explain_again(rerun, policy, recorded, positions, user)


def explain_again(
    rerun: Callable[[Explainer], object],
    policy: CompiledPolicy,
    recorded: RecordedRun,
    positions: Iterable[int],
    user: str | None = None,
) -> list[Explanation]:
    """Explain the decisions at `positions` of a recorded run by running it again, watched by an Explainer
    (`rerun` makes the same decisions as the recorded run, from wherever that run started)."""
    positions = sorted(set(positions))
    decisions = recorded.decisions
    wanted = {recorded.calls[p]: (p, decisions[p]) for p in positions if p in recorded.calls}
    explainer = Explainer(wanted, user)
    if wanted:
        rerun(explainer)
    return [with_timer(policy, decisions, position, explainer.explained.get(position), user) for position in positions]


def watched(engine: Engine, watcher: Watcher) -> Engine:
    """`engine` with its router watched, as a WatchedEngine's is: for an engine built from a saved state."""
    engine.router = WatchedRouter(engine.policy, engine.roster, watcher)
    return engine


def recorded_from(decisions: list[Decision], recorder: CallRecorder) -> RecordedRun:
    """The run's decisions with the router call that made each one (as `record_run` notes them)."""
    calls = {position: recorder.made[id(d)] for position, d in enumerate(decisions) if id(d) in recorder.made}
    return RecordedRun(decisions, calls)


def with_timer(
    policy: CompiledPolicy, decisions: list[Decision], position: int, explanation: Explanation | None, user: str | None
) -> Explanation:
    """The explanation of `decisions[position]` told which timer it follows: for a row the router did not make
    (None), the timer that wrote it; for a timer's branch, the timer. `decisions` may be the contact's alone."""
    if explanation is None:
        return timer_row(policy, decisions, position, user)
    if explanation.via == Via.BRANCH:
        explanation.timer = branch_timer(policy, decisions, position)
    return explanation


def explain_run(
    policy: CompiledPolicy,
    roster: Roster,
    events: Iterable[Event],
    wanted: Callable[[Decision], bool],
    user: str | None = None,
    until: datetime | None = None,
) -> list[Explanation]:
    """Run the events as `rota replay` does and explain every decision `wanted` accepts, in order."""
    events = list(events)
    recorded = record_run(policy, roster, events, until)
    positions = [position for position, decision in enumerate(recorded.decisions) if wanted(decision)]
    return explain_recorded(policy, roster, events, recorded, positions, user, until)


def explain_batch(
    policy: CompiledPolicy,
    roster: Roster,
    contacts: list[Contact],
    now: datetime,
    wanted: Callable[[Decision], bool],
    user: str | None = None,
) -> list[Explanation]:
    """Route the contacts as `rota batch` does (one pass at `now`) and explain every decision `wanted` accepts,
    in input order; the roster and the contacts are not changed."""
    recorder = CallRecorder()
    decisions = WatchedRouter(policy, copy.deepcopy(roster), recorder).route_batch(copy.deepcopy(contacts), now)
    calls = [recorder.made[id(decision)] for decision in decisions]
    wanted_calls = {calls[p]: (p, d) for p, d in enumerate(decisions) if wanted(d)}
    explainer = Explainer(wanted_calls, user)
    WatchedRouter(policy, copy.deepcopy(roster), explainer).route_batch(copy.deepcopy(contacts), now)
    return [explainer.explained[position] for position in sorted(explainer.explained)]


# ------------------------------------------------------------------ timers


def timer_row(policy: CompiledPolicy, decisions: list[Decision], position: int, user: str | None) -> Explanation:
    """A row a timer wrote itself: `timed_out`, `released`, or `failed` for a timeout with no branch."""
    decision = decisions[position]
    explanation = Explanation(seq=position, decision=row_of(decision), via=Via.TIMER)
    explanation.timer = fired_timer(policy, decisions, position)
    if decision.outcome == Outcome.FAILED:
        explanation.nobody = f"route {decision.route}'s timeout has no branch: the contact leaves routing"
    if user is not None:
        says = f"{user} is the assignee the timer took the contact from"
        verdict = Verdict.RELEASED if decision.user == user else Verdict.NO_POOL
        explanation.user = UserVerdict(
            user=user,
            verdict=verdict,
            says=says if verdict == Verdict.RELEASED else "a timer wrote this row: nobody was chosen",
        )
    return explanation


def fired_timer(policy: CompiledPolicy, decisions: list[Decision], position: int) -> Timer | None:
    decision = decisions[position]
    route = policy.route_named(decision.route) if decision.route is not None else None
    if route is None:
        return None
    if decision.outcome == Outcome.RELEASED:
        option = next((o for o in route.route.reassigns if o.trigger == decision.reason), None)
        return Timer(
            kind=str(decision.reason),
            route=route.name,
            wait=format_duration(option.seconds) if option else None,
            started_at=None,
            fired_at=format_instant(decision.at),
            branch=option.branch if option else None,
        )
    queued = next(
        (
            d
            for d in reversed(decisions[:position])
            if d.contact == decision.contact and d.outcome == Outcome.QUEUED and d.deadline == decision.at
        ),
        None,
    )
    return Timer(
        kind="timeout",
        route=route.name,
        wait=format_duration(route.timeout_seconds),
        started_at=format_instant(queued.at) if queued else None,
        fired_at=format_instant(decision.at),
        branch=route.route.branch,
    )


TIMER_OUTCOMES = (Outcome.TIMED_OUT, Outcome.RELEASED)


def branch_timer(policy: CompiledPolicy, decisions: list[Decision], position: int) -> Timer | None:
    """For a timer's branch, the timer: the `timed_out` or `released` row just before, same contact and instant."""
    decision = decisions[position]
    for index in range(position - 1, -1, -1):
        earlier = decisions[index]
        if earlier.at != decision.at:
            return None
        if earlier.contact == decision.contact and earlier.outcome in TIMER_OUTCOMES:
            return fired_timer(policy, decisions, index)
    return None
