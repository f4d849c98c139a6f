"""What a simulation's decisions say about a policy: fairness, waits, timeouts, releases.

Pure functions over a `SimulationRun`; the definitions here are the ones the
README gives ops teams ("Simulating a policy: the measures"). Waits are summed
up by `rota.waits`, as every command does.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from rota.vocabulary import UNASSIGN_BRANCH, Outcome, Reason

from ..waits import WaitSummary
from .desk import SimulationRun

ASSIGNED_AT_ONCE = "assigned at once"
ASSIGNED_AFTER_WAITING = "assigned after waiting"
TIMED_OUT = "timed out"
WAITING_AT_END = "waiting at end"
FAILED = Outcome.FAILED.value  # these two fates are named after their outcomes
UNASSIGNED = Outcome.UNASSIGNED.value
# A timeout's branch is a route's name, UNASSIGN_BRANCH, or none.
NO_BRANCH = "no branch"
ROUTE_FATES = (ASSIGNED_AT_ONCE, ASSIGNED_AFTER_WAITING, TIMED_OUT, WAITING_AT_END, FAILED, UNASSIGNED)

# Where each arrived contact is when the simulation ends: exactly one of these.
CLOSED, OPEN_AT_END, NO_ROUTE = "closed", "assigned, open at end", "no route"
CONTACT_ENDINGS = (CLOSED, OPEN_AT_END, WAITING_AT_END, FAILED, UNASSIGNED, NO_ROUTE)


def gini(counts: list[int]) -> float:
    """The Gini coefficient of a population: G = sum_i sum_j |x_i - x_j| / (2 n^2 mean).

    0 when everyone has the same (also when nobody has anything); it tends to 1
    when one agent has everything ([0, 0, 0, 4] gives 0.75, the most four can
    reach). Computed from the sorted counts as sum_i (2i - n - 1) x_i / (n^2 mean),
    i = 1..n, which is the same sum."""
    n, total = len(counts), sum(counts)
    if n == 0 or total == 0:
        return 0.0
    ordered = sorted(counts)
    weighted = sum((2 * rank - n - 1) * value for rank, value in enumerate(ordered, 1))
    return weighted / (n * total)


def max_min_ratio(counts: list[int]) -> float:
    """The busiest agent's count over the least busy one's: 1 is perfectly even.

    Infinite when some agent got nothing while another got something; 1 when
    nobody got anything (or there is nobody)."""
    if not counts or max(counts) == 0:
        return 1.0
    if min(counts) == 0:
        return math.inf
    return max(counts) / min(counts)


@dataclass
class SimulationMeasures:
    arrived: int
    outcomes: Counter  # decision rows by outcome
    endings: Counter  # arrived contacts by CONTACT_ENDINGS
    assigned_by_agent: dict[str, int]  # the agents who count for fairness
    gini: float
    max_min_ratio: float
    queue_waits: dict[str, list[float]]  # route -> seconds in its queue, per assignment
    time_to_assignment: list[float]  # seconds from arrival to first assignment, one per contact assigned
    route_fates: dict[str, Counter]  # route -> ROUTE_FATES counts
    branches: Counter  # (route timed out, branch, the branch's outcome)
    timeouts: Counter = field(default_factory=Counter)  # route -> timed_out rows
    peak_queue: int = 0
    releases: Counter = field(default_factory=Counter)  # (route whose option fired, reason) -> released rows
    absent_held: list[float] = field(default_factory=list)  # per assigned contact: seconds with an absent assignee

    @property
    def held_by_absent(self) -> list[float]:
        """The time each contact that sat with an absent assignee at all sat there."""
        return [seconds for seconds in self.absent_held if seconds > 0]

    def wait_summary(self, route: str) -> WaitSummary:
        return WaitSummary.of(self.queue_waits.get(route, []))


def counted_agents(run: SimulationRun) -> list[str]:
    """The agents fairness is measured over: every agent given a contact, and every
    agent not deleted who was online at some point while in the pool of a team or
    space route that some contact took (on arrival or by a timeout branch).

    So a night shift whose route no contact took during a day does not count as
    treated unfairly, but an online agent whose route was busy and who got
    nothing counts, with zero."""
    assigned = {decision.user for decision in run.decisions if decision.outcome == Outcome.ASSIGNED}
    taken = {decision.route for decision in run.decisions if decision.outcome in (Outcome.ASSIGNED, Outcome.QUEUED)}
    reachable = set().union(*(users for route, users in run.pools.items() if route in taken))
    return [
        user_id
        for user_id in run.users
        if user_id in assigned
        or (user_id not in run.deleted and user_id in run.online_at_some_point and user_id in reachable)
    ]


def measure(run: SimulationRun) -> SimulationMeasures:
    assigned = Counter(decision.user for decision in run.decisions if decision.outcome == Outcome.ASSIGNED)
    agents = counted_agents(run)
    by_agent = {user_id: assigned.get(user_id, 0) for user_id in agents}
    journeys = _follow_contacts(run)
    counts = list(by_agent.values())
    return SimulationMeasures(
        arrived=len(run.arrivals),
        outcomes=Counter(decision.outcome for decision in run.decisions),
        endings=_endings(run),
        assigned_by_agent=by_agent,
        gini=gini(counts),
        max_min_ratio=max_min_ratio(counts),
        queue_waits=journeys.queue_waits,
        time_to_assignment=journeys.time_to_assignment,
        route_fates=journeys.route_fates,
        branches=journeys.branches,
        timeouts=Counter(decision.route for decision in run.decisions if decision.outcome == Outcome.TIMED_OUT),
        peak_queue=max(run.samples.queue_length, default=0),
        releases=Counter(
            (decision.route, decision.reason) for decision in run.decisions if decision.outcome == Outcome.RELEASED
        ),
        absent_held=list(run.absent_seconds.values()),
    )


@dataclass
class _Journeys:
    queue_waits: dict[str, list[float]] = field(default_factory=dict)
    time_to_assignment: list[float] = field(default_factory=list)
    route_fates: dict[str, Counter] = field(default_factory=dict)
    branches: Counter = field(default_factory=Counter)


def _follow_contacts(run: SimulationRun) -> _Journeys:
    """Walk the decision log contact by contact: each time a contact enters a route
    (on arrival, or by a timeout branch) counts once in that route's fates."""
    journeys = _Journeys()
    simulated = set(run.arrivals)
    arrived_at: dict[str, datetime] = {}
    waiting_since: dict[str, datetime] = {}  # contact -> when it entered its route's queue
    timed_out_from: dict[str, str] = {}  # contact -> route whose timeout just fired
    last_route: dict[str, str] = {}
    assigned: set[str] = set()

    def fate(route: str, what: str) -> None:
        journeys.route_fates.setdefault(route, Counter())[what] += 1

    for decision in run.decisions:
        contact, route, outcome = decision.contact, decision.route, decision.outcome
        if contact not in simulated or outcome == Outcome.NO_ROUTE:
            continue
        at = decision.at
        assert at is not None and route is not None  # the engine's decisions have a time; all but no_route a route
        arrived_at.setdefault(contact, at)
        last_route[contact] = route
        branch_from = timed_out_from.pop(contact, None)
        if branch_from is not None:
            branch = _branch_of(decision)
            journeys.branches[(branch_from, branch, outcome)] += 1
            if branch in (NO_BRANCH, UNASSIGN_BRANCH):
                continue  # the end of the timed-out route's entry, not an entry into another route
        if outcome == Outcome.ASSIGNED:
            since = waiting_since.pop(contact, None)
            fate(route, ASSIGNED_AT_ONCE if since is None else ASSIGNED_AFTER_WAITING)
            journeys.queue_waits.setdefault(route, []).append(0.0 if since is None else _seconds(at - since))
            if contact not in assigned:  # a contact released and assigned again counts its first assignment
                assigned.add(contact)
                journeys.time_to_assignment.append(_seconds(at - arrived_at[contact]))
        elif outcome == Outcome.QUEUED:
            waiting_since[contact] = at
        elif outcome == Outcome.TIMED_OUT:
            del waiting_since[contact]
            timed_out_from[contact] = route
            fate(route, TIMED_OUT)
        elif outcome in (Outcome.FAILED, Outcome.UNASSIGNED):
            fate(route, FAILED if outcome == Outcome.FAILED else UNASSIGNED)
    for contact in run.still_queued:
        if contact in simulated:
            fate(last_route[contact], WAITING_AT_END)
    return journeys


def _branch_of(decision) -> str:
    """The branch a timeout took, read from the decision right after it (SPEC 4)."""
    if decision.outcome == Outcome.FAILED and decision.reason == Reason.TIMEOUT:
        return NO_BRANCH
    if decision.outcome == Outcome.UNASSIGNED:
        return UNASSIGN_BRANCH  # the row carries the timed-out route, not a branch route
    return decision.route


def _endings(run: SimulationRun) -> Counter:
    last_outcome = {decision.contact: decision.outcome for decision in run.decisions}
    closed, waiting = set(run.closed), set(run.still_queued)
    endings: Counter = Counter()
    for contact in run.arrivals:
        if contact in closed:
            endings[CLOSED] += 1
        elif contact in waiting:
            endings[WAITING_AT_END] += 1
        else:
            endings[
                {
                    Outcome.ASSIGNED.value: OPEN_AT_END,
                    Outcome.FAILED.value: FAILED,
                    Outcome.UNASSIGNED.value: UNASSIGNED,
                    Outcome.NO_ROUTE.value: NO_ROUTE,
                }[last_outcome[contact]]
            ] += 1
    return endings


def _seconds(delta) -> float:
    return delta.total_seconds()
