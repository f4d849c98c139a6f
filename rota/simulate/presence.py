"""Who holds each simulated contact and who is not online, hence how long each contact sat with an absent
assignee; and the lognormal draws of absences and reply times."""

from __future__ import annotations

import math
import random
from datetime import datetime

from rota.engine import Roster
from rota.vocabulary import Status

ONLINE = Status.ONLINE.value


class Presence:
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
