"""Routing one contact, exactly as SPEC section 3 says.

`candidates` and `choose` are the straightforward path: they look at the
whole pool. `place` takes the fast path where it can: a route whose per-pick
filters are all caps on `open` or indexed shapes (filters.py) keeps its
candidates up to date (live_candidates.py). The batch planner (batch.py) is
the fast path for a whole backlog; property tests hold each fast path to the
straightforward one.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rota.vocabulary import ContactField

from . import decisions as d
from .choice import first_after, least_open
from .clock import deadline_after, now_fields
from .compiler import (
    LEAST_OPEN,
    NO_FIELDS,
    ROUND_ROBIN,
    TEAM_ROUTE,
    UNASSIGN_ROUTE,
    USER_ROUTE,
    CompiledPolicy,
    CompiledRoute,
)
from .decisions import Decision
from .live_candidates import RouteCandidates
from .roster import PROFILE_CHANGES, JournalReader, Roster, User, as_user_id

CONTACT_ID, CONTACT_ASSIGNEE = ContactField.ID.value, ContactField.ASSIGNEE.value
# Released from nobody: one object that every such contact shares (`frozenset()` makes a new one at each call).
NO_USERS: frozenset[str] = frozenset()


@dataclass(eq=False)
class Contact:
    id: str
    assignee: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    # The users the contact was released from (SPEC 4.1): never its candidates until closed or routed again.
    # Frozen, replaced at each release: most contacts are never released, and share NO_USERS instead of
    # holding a set each, which the cycle collector would walk at every full collection.
    released: frozenset[str] = NO_USERS

    @property
    def fields(self) -> dict[str, Any]:
        """What `contact.F` reads: the attributes, with `id` and `assignee` built in."""
        return {**self.attributes, CONTACT_ID: self.id, CONTACT_ASSIGNEE: self.assignee}


@dataclass(eq=False)
class StaticCandidates:
    reader: JournalReader  # how far into the roster's journal this set is up to date
    users: list[User]
    ids: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ids = [user.id for user in self.users]

    def update(self, user_id: str, user: User | None) -> None:
        """Put `user` in its place by id, or take `user_id` out when `user` is None."""
        index = bisect_left(self.ids, user_id)
        present = index < len(self.ids) and self.ids[index] == user_id
        if user is None:
            if present:
                del self.users[index], self.ids[index]
        elif present:
            self.users[index] = user
        else:
            self.users.insert(index, user)
            self.ids.insert(index, user_id)


class Router:
    def __init__(self, policy: CompiledPolicy, roster: Roster):
        self.policy = policy
        self.roster = roster
        self._static: dict[str, StaticCandidates] = {}
        self._live: dict[str, RouteCandidates] = {}
        self._moment: tuple[datetime | None, dict[str, Any]] = (None, {})

    def now_fields(self, now: datetime) -> dict[str, Any]:
        """The `now.*` fields, worked out once per instant (a drain asks many times), and only for a policy
        that reads them: none of its expressions reads one otherwise."""
        if not self.policy.reads_now:
            return NO_FIELDS
        if now != self._moment[0]:
            self._moment = (now, now_fields(now, self.policy.zone))
        return self._moment[1]

    def route(self, contact: Contact, now: datetime) -> Decision:
        """SPEC 3.1: select a route, then run its action."""
        route = self.policy.select(contact.fields, self.now_fields(now))
        if route is None:
            return Decision(contact.id, None, d.NO_ROUTE, at=now)
        return self.apply(route, contact, now)

    def route_batch(self, contacts: list[Contact], now: datetime) -> list[Decision]:
        """SPEC 5.1 `batch`, one contact at a time: in order of the chosen route's
        priority (descending), then input position; decisions in input order."""
        moment = self.now_fields(now)
        chosen = [self.policy.select(contact.fields, moment) for contact in contacts]
        priorities = [route.route.priority if route else 0 for route in chosen]
        order = sorted(range(len(contacts)), key=lambda i: (-priorities[i], i))
        decisions: list[Decision] = [None] * len(contacts)  # type: ignore[list-item]
        for position in order:
            route, contact = chosen[position], contacts[position]
            decisions[position] = (
                Decision(contact.id, None, d.NO_ROUTE, at=now) if route is None else self.apply(route, contact, now)
            )
        return decisions

    def apply(self, route: CompiledRoute, contact: Contact, now: datetime) -> Decision:
        """SPEC 3.2-3.5 for a chosen route (also a timeout branch's route)."""
        if route.kind == UNASSIGN_ROUTE:
            return self.unassign(route.name, contact, now)
        if route.kind == USER_ROUTE:
            return self._assign_to_user(route, contact, now)
        if self.roster.pool_is_empty(route.team):
            reason = d.TEAM_EMPTY if route.kind == TEAM_ROUTE else d.SPACE_EMPTY
            return Decision(contact.id, route.name, d.FAILED, reason=reason, at=now)
        placed = self.place(route, contact, now)
        if placed is not None:
            return placed
        deadline = deadline_after(now, route.timeout_seconds)
        return Decision(contact.id, route.name, d.QUEUED, deadline=deadline, at=now, candidates=0)

    def unassign(self, route_name: str, contact: Contact, now: datetime) -> Decision:
        self.roster.take_away(contact.assignee)
        contact.assignee = None
        return Decision(contact.id, route_name, d.UNASSIGNED, at=now)

    def place(self, route: CompiledRoute, contact: Contact, now: datetime) -> Decision | None:
        """Eligibility and logic (SPEC 3.3-3.5); None when nobody is eligible.

        Drains call this directly: no failure checks run there (SPEC 4)."""
        chosen, eligible = self.pick(route, contact, now)
        if chosen is None:
            return None
        return self._give(route, contact, chosen, route.logic, now, eligible)

    def pick(self, route: CompiledRoute, contact: Contact, now: datetime) -> tuple[User | None, int]:
        """Whom SPEC 3.4 chooses now, and how many users are eligible; changes nothing.

        The same as `choose` over `candidates`, without the scan where the route's
        per-pick filters are all caps or indexed (a property test holds the two together)."""
        live = self._live.get(route.name)
        if live is None and route.plan.live:
            live = self._live[route.name] = RouteCandidates(route, self.roster)
        if live is not None:
            if not live.key_fields:  # caps only read neither the contact nor the clock: one set, no key
                return live.pick_unkeyed(contact.released)
            picked = live.pick(contact.fields, self.now_fields(now), contact.released)
            if picked is not None:
                return picked
        candidates = self.candidates(route, contact, now)
        return (self.choose(route, candidates) if candidates else None), len(candidates)

    def has_candidates(self, route: CompiledRoute, contact: Contact, now: datetime) -> bool:
        """Whether the route has a candidate for the contact were it released from nobody; changes nothing."""
        unreleased = Contact(contact.id, contact.assignee, contact.attributes)
        return self.pick(route, unreleased, now)[0] is not None

    def candidates(self, route: CompiledRoute, contact: Contact, now: datetime) -> list[User]:
        """SPEC 3.3: the pool's users for whom every `only` holds, less those the contact was released from."""
        per_pick, released = route.per_pick_filters, contact.released
        if not per_pick and not released:
            return self._static_candidates(route)
        fields, moment = contact.fields, self.now_fields(now)
        return [
            user
            for user in self._static_candidates(route)
            if user.id not in released and all(f(user, fields, moment) for f in per_pick)
        ]

    def _static_candidates(self, route: CompiledRoute) -> list[User]:
        """The pool narrowed by the filters that read only unchanging user fields, sorted by id.

        Kept per route and brought up to date from the roster's journal, so a
        status change costs a few bisects, not a pass over the pool."""
        cached = self._static.get(route.name)
        entries = cached.reader.read() if cached is not None else None
        changed = None if entries is None else dict.fromkeys(u for change, u in entries if change in PROFILE_CHANGES)
        if cached is None or changed is None or len(changed) > len(cached.users) // 4 + 16:
            cached = self._static[route.name] = StaticCandidates(
                JournalReader(self.roster.journal),
                [user for user in self.roster.pool(route.team) if self._passes_static(route, user)],
            )
            return cached.users
        for user_id in changed:
            user = self.roster.users.get(user_id)
            cached.update(user_id, user if user is not None and self._passes_static(route, user) else None)
        return cached.users

    def _passes_static(self, route: CompiledRoute, user: User) -> bool:
        return self.roster.in_pool(user, route.team) and all(
            f(user, NO_FIELDS, NO_FIELDS) for f in route.static_filters
        )

    def choose(self, route: CompiledRoute, candidates: list[User]) -> User:
        """SPEC 3.4 over candidates sorted by id."""
        if route.logic == LEAST_OPEN:
            return least_open(candidates)
        pool_key = route.pool_key
        assert pool_key is not None  # round robin routes to a team or the space, which have a cursor
        return candidates[first_after([user.id for user in candidates], self.roster.cursors.get(pool_key))]

    def _assign_to_user(self, route: CompiledRoute, contact: Contact, now: datetime) -> Decision:
        target_user = route.target_user
        assert target_user is not None  # compiled for every user route
        target = as_user_id(target_user(None, contact.fields, self.now_fields(now)))
        user = self.roster.users.get(target) if target is not None else None
        if user is None:
            return Decision(contact.id, route.name, d.FAILED, reason=d.USER_NOT_FOUND, at=now)
        if user.deleted:
            return Decision(contact.id, route.name, d.FAILED, reason=d.USER_DELETED, at=now)
        if user.id in contact.released:
            return Decision(contact.id, route.name, d.FAILED, reason=d.USER_RELEASED, at=now)
        return self._give(route, contact, user, d.BY_USER, now)

    def _give(
        self,
        route: CompiledRoute,
        contact: Contact,
        user: User,
        reason: str,
        now: datetime,
        eligible: int | None = None,
    ) -> Decision:
        self.roster.give(user, contact.assignee, now)
        if reason == ROUND_ROBIN:
            pool_key = route.pool_key
            assert pool_key is not None  # round robin routes to a team or the space, which have a cursor
            self.roster.cursors[pool_key] = user.id
        contact.assignee = user.id
        return Decision(contact.id, route.name, d.ASSIGNED, user=user.id, reason=reason, at=now, candidates=eligible)
