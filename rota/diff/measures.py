"""What one run of a history says about its policy, measured the same way for OLD and NEW.

Waits are `rota simulate`'s queue waits (rota.simulate.measures.follow_contacts),
fairness its Gini and max/min ratio, over each team's members: one place for a
measure.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from rota.engine import Decision
from rota.simulate.measures import ASSIGNED_AFTER_WAITING, follow_contacts, gini, max_min_ratio
from rota.vocabulary import Outcome
from rota.waits import WaitSummary

from .history import History


@dataclass(frozen=True)
class RouteWaits:
    assigned: int  # assignments the route made
    waited: int  # of those, after waiting in its queue
    summary: WaitSummary  # over every assignment, 0 for one made on arrival


@dataclass(frozen=True)
class Fairness:
    assigned: dict[str, int]  # member -> assigned contacts
    gini: float
    max_min_ratio: float


@dataclass(frozen=True)
class RunMeasures:
    outcomes: Counter
    waits: dict[str, RouteWaits]
    fairness: dict[str, Fairness]  # team -> its members' shares
    timeouts: Counter  # route -> timed_out rows
    releases: Counter  # route -> released rows


def fairness_population(history: History, runs: list[list[Decision]]) -> dict[str, list[str]]:
    """Each team's members who count, the same for both runs: members at the start or by a `join`,
    not deleted at the start, and online at some moment of the history or given a contact by either
    policy (so an off-shift member does not make every team look unfair)."""
    roster = history.start()
    members: dict[str, set[str]] = {team: set(users) for team, users in roster.members.items()}
    for team, user_id in history.joined():
        members.setdefault(team, set()).add(user_id)
    online = history.online_at_some_point(roster)
    given = {d.user for decisions in runs for d in decisions if d.outcome == Outcome.ASSIGNED}
    deleted = {user.id for user in roster.users.values() if user.deleted}
    counted = {
        team: sorted(user for user in users if user in given or (user in online and user not in deleted))
        for team, users in sorted(members.items())
    }
    return {team: users for team, users in counted.items() if users}


def measure_run(decisions: list[Decision], population: dict[str, list[str]]) -> RunMeasures:
    journeys = follow_contacts(decisions)
    assigned = Counter(d.user for d in decisions if d.outcome == Outcome.ASSIGNED)
    fairness = {}
    for team, users in population.items():
        counts = {user: assigned.get(user, 0) for user in users}
        fairness[team] = Fairness(counts, gini(list(counts.values())), max_min_ratio(list(counts.values())))
    waits = {
        route: RouteWaits(len(seconds), journeys.route_fates[route][ASSIGNED_AFTER_WAITING], WaitSummary.of(seconds))
        for route, seconds in journeys.queue_waits.items()
    }
    return RunMeasures(
        outcomes=Counter(d.outcome for d in decisions),
        waits=waits,
        fairness=fairness,
        timeouts=Counter(d.route for d in decisions if d.outcome == Outcome.TIMED_OUT),
        releases=Counter(d.route for d in decisions if d.outcome == Outcome.RELEASED),
    )
