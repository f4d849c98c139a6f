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
- **Going away mid-shift**: a share `away_share` of the users (not deleted)
  also leave once, at a moment drawn uniformly over the simulated time, for
  a lognormal time (mean `away_minutes`, standard deviation `away_spread`),
  keeping what they hold; their breaks stop meanwhile. One not online at that
  moment stays as it is.
- **Replies**: after each assignment the assignee replies once (a `reply`
  event) after a lognormal time (mean `reply_minutes`, standard deviation
  `reply_spread`), if it still holds the contact; an assignee not online then
  replies when it is back.

Every change goes to the engine as an `Event`, in time order (ties in the
order they were scheduled), so timeouts and release timers fire when SPEC 4
and 4.1 say. Arrivals and presence are drawn from one `random.Random(seed)`,
each contact's handling and reply times from its own generator (seeded by the
seed and its id), and times are whole seconds: the same seed, policy and
snapshot give the same decisions, hence the same report; and two policies run
with one seed see the same contacts, absences and reply times.
"""

from __future__ import annotations

import heapq
import math
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

# What the simulation's own clock schedules, beside the engine's timers.
ARRIVAL, CLOSE, STATUS, SAMPLE, REPLY = "arrival", "close", "status", "sample", "reply"
LEAVE, RETURN = "leave", "return"  # a mid-shift absence


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
    away_share: float = 0.2  # users who also go away once mid-shift
    away_minutes: float = 45.0  # mean of that absence (lognormal)
    away_spread: float = 30.0  # its standard deviation
    reply_minutes: float = 3.0  # mean time from an assignment to the assignee's reply (lognormal)
    reply_spread: float = 2.0  # its standard deviation

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
    events: list[Event]  # what the desk sent the engine, in order
    arrivals: list[str]  # contact ids, in arrival order
    closed: list[str]  # simulated contacts closed after handling
    still_queued: list[str]  # queued when the simulation ended
    users: list[str]  # every user, by id
    names: dict[str, str | None]
    deleted: set[str]
    online_at_some_point: set[str]
    pools: dict[str, set[str]]  # team or space route -> users it could give a contact to
    samples: LoadSamples
    absent_seconds: dict[str, float]  # arrived contact ever assigned -> time it sat with an assignee not online
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
        self.contact_randoms: dict[str, random.Random] = {}
        self.policy = policy
        self.pools = _pools_by_route(policy, roster)
        self.profiles = ContactProfiles(policy, roster, settings.start, settings.plain_share, self.random)
        self.engine = Engine(policy, roster)
        self.pending: list[tuple[datetime, int, str, Any]] = []
        self.sequence = 0
        self.decisions: list[Decision] = []
        self.events: list[Event] = []
        self.arrivals: list[str] = []
        self.closed: list[str] = []
        self.handling: set[str] = set()  # simulated contacts whose close is scheduled
        self.online_at_some_point = {
            user.id for user in roster.users.values() if user.status == ONLINE and not user.deleted
        }
        self.samples = LoadSamples(open_by_user={user_id: [] for user_id in sorted(roster.users)})
        self.presence = _Presence(roster, settings.start)
        self.shift = {user_id: 0 for user_id in roster.users}  # a break's events count for this shift only
        self.assignments: dict[str, int] = {}  # contact -> its assignments so far: a reply is for one of them
        self.unsent_replies: dict[str, list[tuple[str, int]]] = {}  # user -> replies it sends when back online

    # ------------------------------------------------------------ scheduling

    def schedule(self, at: datetime, kind: str, subject: Any) -> None:
        heapq.heappush(self.pending, (at, self.sequence, kind, subject))
        self.sequence += 1

    def after(self, moment: datetime, mean_minutes: float, generator: random.Random | None = None) -> datetime:
        """An exponential delay with this mean, in whole seconds (0 is fine: the engine orders same-instant events)."""
        draw = (generator or self.random).expovariate(1.0)
        return moment + timedelta(seconds=round(draw * mean_minutes * 60))

    def contact_random(self, contact_id: str) -> random.Random:
        if contact_id not in self.contact_randoms:
            self.contact_randoms[contact_id] = random.Random(f"{self.settings.seed}:{contact_id}")
        return self.contact_randoms[contact_id]

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
        self.presence.stop(end)

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
        self._schedule_absences()

    def _schedule_absences(self) -> None:
        present = sorted(user.id for user in self.engine.roster.users.values() if not user.deleted)
        settings = self.settings
        for user_id in self.random.sample(present, round(settings.away_share * len(present))):
            leaves = settings.start + timedelta(seconds=round(self.random.uniform(0, settings.hours * 3600)))
            minutes = lognormal(self.random, settings.away_minutes, settings.away_spread)
            self.schedule(leaves, LEAVE, (user_id, leaves + timedelta(seconds=round(minutes * 60))))

    def _schedule_samples(self) -> None:
        step = timedelta(minutes=self.settings.sample_minutes)
        moment = self.settings.start
        while moment < self.settings.end:
            self.schedule(moment, SAMPLE, None)
            moment += step

    # ------------------------------------------------------------ happenings

    def happen(self, at: datetime, kind: str, subject: Any) -> None:
        # Timers due before this instant fire first (those due at it wait for its events), so what the desk
        # knows of who holds what is up to date before it acts.
        self.record(self.engine.advance(at, inclusive=False))
        if kind == ARRIVAL:
            contact_id = f"s{len(self.arrivals) + 1:05d}"
            self.arrivals.append(contact_id)
            self.send(Event(at, EventType.ROUTE.value, contact=contact_id, attrs=self.profiles.sample(self.random)))
            self.schedule(self.after(at, 60 / self.settings.arrivals_per_hour), ARRIVAL, None)
        elif kind == CLOSE:
            if subject in self.handling:
                self.closed.append(subject)
            self.presence.let_go(at, subject)
            self.send(Event(at, EventType.CLOSE.value, contact=subject))
        elif kind == STATUS:
            user_id, status, *shift = subject
            if (shift[0] if shift else 0) == self.shift[user_id]:  # else an absence cut this break short
                self.change_status(at, user_id, status)
        elif kind == LEAVE:
            user_id, returns = subject
            if self.engine.roster.users[user_id].status == ONLINE:
                self.shift[user_id] += 1
                self.change_status(at, user_id, AWAY, following=False)
                self.schedule(returns, RETURN, user_id)
        elif kind == RETURN:
            self.change_status(at, subject, ONLINE)
        elif kind == REPLY:
            contact_id, user_id, assignment = subject
            if self.presence.holder(contact_id) == user_id and self.assignments[contact_id] == assignment:
                if self.engine.roster.users[user_id].status == ONLINE:
                    self.reply(at, contact_id, user_id)
                else:
                    self.unsent_replies.setdefault(user_id, []).append((contact_id, assignment))
        elif kind == SAMPLE:
            self.sample(at)

    def change_status(self, at: datetime, user_id: str, status: str, following: bool = True) -> None:
        """Send the change; going on, schedule the next one of the user's breaks (in its current shift)."""
        self.presence.changed(at, user_id, status == ONLINE)
        self.send(Event(at, EventType.STATUS.value, user=user_id, status=status))
        if status == ONLINE:
            self.online_at_some_point.add(user_id)
            for contact_id, assignment in self.unsent_replies.pop(user_id, []):
                self.schedule(at, REPLY, (contact_id, user_id, assignment))
        if following:
            mean, then = (
                (self.settings.online_minutes, AWAY) if status == ONLINE else (self.settings.break_minutes, ONLINE)
            )
            self.schedule(self.after(at, mean), STATUS, (user_id, then, self.shift[user_id]))

    def reply(self, at: datetime, contact_id: str, user_id: str) -> None:
        self.send(Event(at, EventType.REPLY.value, contact=contact_id, user=user_id))

    def send(self, event: Event) -> None:
        self.events.append(event)
        self.record(self.engine.handle(event))

    def record(self, decisions: list[Decision]) -> None:
        """Keep every decision; an assignment starts handling (once per contact) and waits for a reply."""
        for decision in decisions:
            self.decisions.append(decision)
            assert decision.at is not None  # the engine's decisions have a time
            if decision.outcome in (Outcome.RELEASED, Outcome.UNASSIGNED):
                self.presence.let_go(decision.at, decision.contact)
            if decision.outcome != Outcome.ASSIGNED or decision.user is None:
                continue
            self.presence.hold(decision.at, decision.contact, decision.user)
            generator = self.contact_random(decision.contact)
            if decision.contact not in self.handling:
                self.handling.add(decision.contact)
                self.schedule(self.after(decision.at, self.settings.handle_minutes, generator), CLOSE, decision.contact)
            assignment = self.assignments[decision.contact] = self.assignments.get(decision.contact, 0) + 1
            reply_in = timedelta(
                seconds=round(60 * lognormal(generator, self.settings.reply_minutes, self.settings.reply_spread))
            )
            self.schedule(decision.at + reply_in, REPLY, (decision.contact, decision.user, assignment))

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
            events=self.events,
            arrivals=self.arrivals,
            closed=self.closed,
            still_queued=[entry.contact for entry in self.engine.queue.in_order()],
            users=sorted(users),
            names={user_id: user.name for user_id, user in users.items()},
            deleted={user_id for user_id, user in users.items() if user.deleted},
            online_at_some_point=self.online_at_some_point,
            pools=self.pools,
            samples=self.samples,
            absent_seconds={
                contact: self.presence.absent[contact] for contact in self.arrivals if contact in self.presence.absent
            },
        )


class _Presence:
    """Who holds each contact, who is not online, and so how long each contact sat with an absent assignee."""

    def __init__(self, roster: Roster, start: datetime):
        self.holders: dict[str, str] = {}
        self.held: dict[str, set[str]] = {user_id: set() for user_id in roster.users}
        self.away_since = {user.id: start for user in roster.users.values() if user.status != ONLINE}
        self.absent: dict[str, float] = {}
        self.since: dict[str, datetime] = {}  # contact -> since when its holder has been absent

    def holder(self, contact_id: str) -> str | None:
        return self.holders.get(contact_id)

    def hold(self, at: datetime, contact_id: str, user_id: str) -> None:
        self.let_go(at, contact_id)
        self.holders[contact_id] = user_id
        self.held[user_id].add(contact_id)
        self.absent.setdefault(contact_id, 0.0)
        if user_id in self.away_since:
            self.since[contact_id] = at

    def let_go(self, at: datetime, contact_id: str) -> None:
        user_id = self.holders.pop(contact_id, None)
        if user_id is not None:
            self.held[user_id].discard(contact_id)
            self._count(at, contact_id)

    def changed(self, at: datetime, user_id: str, online: bool) -> None:
        if online and user_id in self.away_since:
            del self.away_since[user_id]
            for contact_id in self.held[user_id]:
                self._count(at, contact_id)
        elif not online and user_id not in self.away_since:
            self.away_since[user_id] = at
            for contact_id in self.held[user_id]:
                self.since[contact_id] = at

    def stop(self, end: datetime) -> None:
        for contact_id in list(self.since):
            self._count(end, contact_id)

    def _count(self, at: datetime, contact_id: str) -> None:
        since = self.since.pop(contact_id, None)
        if since is not None:
            self.absent[contact_id] += (at - since).total_seconds()


def lognormal(generator: random.Random, mean: float, spread: float) -> float:
    """A lognormal draw with this mean and standard deviation (spread 0: the mean itself)."""
    if spread <= 0 or mean <= 0:
        return max(mean, 0.0)
    sigma_squared = math.log(1 + (spread / mean) ** 2)
    return generator.lognormvariate(math.log(mean) - sigma_squared / 2, math.sqrt(sigma_squared))


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
