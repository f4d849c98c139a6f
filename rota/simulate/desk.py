"""A discrete-event simulation of a desk, run through the real engine (`rota simulate`).

The model (the README's "Simulating a policy" says the same for ops teams):

- **Arrivals** form a Poisson process: the gaps between contacts are
  exponential with mean `60 / arrivals_per_hour` minutes. Each contact's
  attributes come from `ContactProfiles` (rota.simulate.contacts): plain, or
  aimed at one of the policy's conditional routes.
- **Handling** starts when a contact is first assigned and lasts an
  exponential time with mean `handle_minutes`; then the contact is closed.
  The contacts the snapshot's users already hold (`open_contacts`) are a
  backlog that closes the same way, each from the start.
- **Presence**: a user online in the snapshot stays online for an
  exponential stretch (mean `online_minutes`), then takes a break (`away`,
  mean `break_minutes`), comes back online, and so on. A user away at the
  start comes back after a break; one offline at the start begins a shift
  after an exponential wait (mean `shift_start_minutes`). Deleted users
  never change.

Every change goes to the engine as an `Event`, in time order (ties in the
order they were scheduled), so timeouts fire when SPEC 4 says. Every random
draw comes from one `random.Random(seed)` and times are whole seconds: the
same seed, policy and snapshot give the same decisions, hence the same report.
"""

from __future__ import annotations

import heapq
import random
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from rota.dsl.ast import Reassign
from rota.engine import CompiledPolicy, Contact, Decision, Engine, Event, Roster, compile_policy
from rota.vocabulary import EventType, Outcome, RouteKind, Status

from .contacts import ContactProfiles

DEFAULT_START = datetime(2026, 11, 25, 8, 0)  # a Wednesday, 09:00 in Berlin: the demo day

ONLINE, AWAY = Status.ONLINE.value, Status.AWAY.value

# What the simulation's own clock schedules, beside the engine's timeouts.
ARRIVAL, CLOSE, STATUS, SAMPLE = "arrival", "close", "status", "sample"


@dataclass(frozen=True)
class SimulationSettings:
    hours: float = 8.0
    arrivals_per_hour: float = 60.0
    handle_minutes: float = 20.0  # mean handling time, from the first assignment to the close
    seed: int = 1
    start: datetime = DEFAULT_START  # naive UTC, as the engine's clock
    online_minutes: float = 120.0  # mean stretch online before a break
    break_minutes: float = 20.0  # mean break (`away`)
    shift_start_minutes: float = 120.0  # mean wait before a user offline at the start comes online
    plain_share: float = 0.5  # arrivals with no attributes; the rest aim at conditional routes
    sample_minutes: float = 5.0  # how often loads and the queue are sampled

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=round(self.hours * 3600))


@dataclass
class LoadSamples:
    """Each user's open contacts, and the queue's length, every `sample_minutes`."""

    times: list[datetime] = field(default_factory=list)
    open_by_user: dict[str, list[int]] = field(default_factory=dict)
    queue_length: list[int] = field(default_factory=list)


@dataclass
class SimulationRun:
    """What happened: every decision with its time, and what the engine looked like along the way."""

    settings: SimulationSettings
    policy: CompiledPolicy
    decisions: list[Decision]
    arrivals: list[str]  # contact ids, in arrival order
    closed: list[str]  # simulated contacts closed after handling
    still_queued: list[str]  # queued when the simulation ended
    users: list[str]  # every user, by id
    names: dict[str, str | None]
    deleted: set[str]
    online_at_some_point: set[str]
    pools: dict[str, set[str]]  # team or space route -> users it could give a contact to
    samples: LoadSamples
    seconds: float = 0.0


def simulate(policy: CompiledPolicy, roster: Roster, settings: SimulationSettings) -> SimulationRun:
    """Run the desk for `settings.hours` through a fresh engine over `roster` (which it changes)."""
    started = time.perf_counter()
    desk = _Desk(policy, roster, settings)
    desk.run()
    run = desk.result()
    run.seconds = time.perf_counter() - started
    return run


class _Desk:
    """The event loop: a heap of timed happenings, each handed to the engine in order."""

    def __init__(self, policy: CompiledPolicy, roster: Roster, settings: SimulationSettings):
        self.settings = settings
        self.random = random.Random(settings.seed)
        self.policy = policy
        self.pools = _pools_by_route(policy, roster)
        self.profiles = ContactProfiles(policy, roster, settings.start, settings.plain_share, self.random)
        self.engine = Engine(policy, roster)
        self.pending: list[tuple[datetime, int, str, Any]] = []
        self.sequence = 0
        self.decisions: list[Decision] = []
        self.arrivals: list[str] = []
        self.closed: list[str] = []
        self.handling: set[str] = set()  # simulated contacts whose close is scheduled
        self.online_at_some_point = {
            user.id for user in roster.users.values() if user.status == ONLINE and not user.deleted
        }
        self.samples = LoadSamples(open_by_user={user_id: [] for user_id in sorted(roster.users)})

    # ------------------------------------------------------------ scheduling

    def schedule(self, at: datetime, kind: str, subject: Any) -> None:
        heapq.heappush(self.pending, (at, self.sequence, kind, subject))
        self.sequence += 1

    def after(self, moment: datetime, mean_minutes: float) -> datetime:
        """An exponential delay with this mean, in whole seconds (0 is fine: the engine orders same-instant events)."""
        return moment + timedelta(seconds=round(self.random.expovariate(1.0) * mean_minutes * 60))

    def run(self) -> None:
        start, end = self.settings.start, self.settings.end
        self._schedule_backlog()
        self._schedule_presence()
        if self.settings.arrivals_per_hour > 0:
            self.schedule(self.after(start, 60 / self.settings.arrivals_per_hour), ARRIVAL, None)
        self._schedule_samples()
        while self.pending and self.pending[0][0] <= end:
            at, _, kind, subject = heapq.heappop(self.pending)
            self.happen(at, kind, subject)
        self.record(self.engine.advance(end, inclusive=True))
        self.sample(end)

    def _schedule_backlog(self) -> None:
        """The snapshot's open counts become contacts the engine knows, so they can be closed."""
        for user in sorted(self.engine.roster.users.values(), key=lambda user: user.id):
            for number in range(1, user.open + 1):
                contact_id = f"backlog-{user.id}-{number}"
                self.engine.restore(Contact(contact_id, user.id), closed=False, entry=None)
                self.schedule(self.after(self.settings.start, self.settings.handle_minutes), CLOSE, contact_id)

    def _schedule_presence(self) -> None:
        for user in sorted(self.engine.roster.users.values(), key=lambda user: user.id):
            if user.deleted:
                continue
            if user.status == ONLINE:
                self.schedule(self.after(self.settings.start, self.settings.online_minutes), STATUS, (user.id, AWAY))
            else:
                mean = self.settings.break_minutes if user.status == AWAY else self.settings.shift_start_minutes
                self.schedule(self.after(self.settings.start, mean), STATUS, (user.id, ONLINE))

    def _schedule_samples(self) -> None:
        step = timedelta(minutes=self.settings.sample_minutes)
        moment = self.settings.start
        while moment < self.settings.end:
            self.schedule(moment, SAMPLE, None)
            moment += step

    # ------------------------------------------------------------ happenings

    def happen(self, at: datetime, kind: str, subject: Any) -> None:
        if kind == ARRIVAL:
            contact_id = f"s{len(self.arrivals) + 1:05d}"
            self.arrivals.append(contact_id)
            self.record(
                self.engine.handle(
                    Event(at, EventType.ROUTE.value, contact=contact_id, attrs=self.profiles.sample(self.random))
                )
            )
            self.schedule(self.after(at, 60 / self.settings.arrivals_per_hour), ARRIVAL, None)
        elif kind == CLOSE:
            if subject in self.handling:
                self.closed.append(subject)
            self.record(self.engine.handle(Event(at, EventType.CLOSE.value, contact=subject)))
        elif kind == STATUS:
            user_id, status = subject
            self.record(self.engine.handle(Event(at, EventType.STATUS.value, user=user_id, status=status)))
            if status == ONLINE:
                self.online_at_some_point.add(user_id)
                self.schedule(self.after(at, self.settings.online_minutes), STATUS, (user_id, AWAY))
            else:
                self.schedule(self.after(at, self.settings.break_minutes), STATUS, (user_id, ONLINE))
        elif kind == SAMPLE:
            # Timeouts due before the sample fire first; those due at it wait for the events of that instant.
            self.record(self.engine.advance(at, inclusive=False))
            self.sample(at)

    def record(self, decisions: list[Decision]) -> None:
        """Keep every decision; an assignment starts handling (once per contact)."""
        for decision in decisions:
            self.decisions.append(decision)
            if decision.outcome == Outcome.ASSIGNED and decision.contact not in self.handling:
                assert decision.at is not None  # the engine's decisions have a time
                self.handling.add(decision.contact)
                self.schedule(self.after(decision.at, self.settings.handle_minutes), CLOSE, decision.contact)

    def sample(self, at: datetime) -> None:
        self.samples.times.append(at)
        users = self.engine.roster.users
        for user_id, series in self.samples.open_by_user.items():
            series.append(users[user_id].open)
        self.samples.queue_length.append(len(self.engine.queue))

    def result(self) -> SimulationRun:
        users = self.engine.roster.users
        return SimulationRun(
            settings=self.settings,
            policy=self.policy,
            decisions=self.decisions,
            arrivals=self.arrivals,
            closed=self.closed,
            still_queued=[entry.contact for entry in self.engine.queue.in_order()],
            users=sorted(users),
            names={user_id: user.name for user_id, user in users.items()},
            deleted={user_id for user_id, user in users.items() if user.deleted},
            online_at_some_point=self.online_at_some_point,
            pools=self.pools,
            samples=self.samples,
        )


def without_reassign(policy: CompiledPolicy) -> CompiledPolicy:
    """The same policy with every `reassign` option taken out: what the desk would do without them."""
    routes = tuple(
        replace(route, options=tuple(option for option in route.options if not isinstance(option, Reassign)))
        for route in policy.policy.routes
    )
    return compile_policy(replace(policy.policy, routes=routes))


def _pools_by_route(policy: CompiledPolicy, roster: Roster) -> dict[str, set[str]]:
    """For each team or space route, the users it could give a contact to, before any filter."""
    pools: dict[str, set[str]] = {}
    for route in policy.routes:
        if route.kind == RouteKind.SPACE:
            pools[route.name] = set(roster.users)
        elif route.team is not None:  # a team route
            pools[route.name] = set(roster.members.get(route.team, ()))
    return pools
