"""What is wrong with a policy itself, whatever the engine does: `rota verify`'s policy checks.

- a route no contact can reach (shadowed by earlier `when`s, and no timeout
  branch leads to it);
- a filter no user of the snapshot can pass, even online and with no open
  contacts;
- a user that no reachable route can ever choose (starved);
- an escalation chain whose total wait is over a limit;
- a `reassign` whose branch can never assign: everyone in the branch's pool
  is the user just released (a user route back to the same user, a team of one);
- a chain of waits through a release (queue timeouts and `reassign` waits
  along branches) whose total is over a limit.

Contacts are enumerated from the policy's vocabulary (every value its `when`s
and filters compare a field to, and null): exhaustively when the combinations
are few, else a seeded sample. When the policy reads `now`, every hour of
every weekday is tried. Team memberships and user attributes are taken as
fixed; statuses, open counts and last assignments are taken at their best.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from typing import Any

from rota import diagnostics as codes
from rota.diagnostics import Code, Diagnostic
from rota.dsl.ast import (
    AssignToUser,
    Compare,
    Expr,
    Field,
    ListLiteral,
    Literal,
    Position,
    Reassign,
    children,
    fields_of,
)
from rota.dsl.formatter import format_duration, format_expression
from rota.engine import CompiledPolicy, CompiledRoute, User
from rota.engine.clock import now_fields
from rota.vocabulary import UNASSIGN_BRANCH, ContactField, NowField, RouteKind, Scope, Status

from .testing.run import Snapshot
from .testing.strategies import Vocabulary
from .wording import plural

MAX_CONTACT_SAMPLES = 4000
MONDAY = datetime(2026, 11, 23)
NOW_DATE = Field(Scope.NOW.value, NowField.DATE.value)


@dataclass(frozen=True)
class PolicyCheck:
    name: str
    title: str
    meaning: str
    needs: str | None = None  # the option it cannot run without: skipped when it is not given


def finding_line(finding: Diagnostic) -> str:
    """`FILE:LINE:COL: MESSAGE [CODE]`, as `rota verify` lists a finding (one about no route has no place)."""
    text = f"{finding.message} [{finding.code.id}]"
    return f"{finding.file}:{finding.line}:{finding.column}: {text}" if finding.line > 0 else text


SHADOWED_ROUTES = PolicyCheck(
    "shadowed_routes",
    "every route can be reached",
    "each route is chosen for some contact, or is the timeout branch of one that is",
)
IMPOSSIBLE_FILTERS = PolicyCheck(
    "impossible_filters",
    "every filter can be passed",
    "for each reachable team or space route, some user of the snapshot passes every "
    "`only` (online or not, with no open contacts at best)",
    needs="--snapshot",
)
STARVED_USERS = PolicyCheck(
    "starved_users",
    "no starved users",
    "every user of the snapshot (not deleted) is in the pool of a reachable route whose "
    "filters it can pass, or can be named by an `assign to user`",
    needs="--snapshot",
)
ESCALATION = PolicyCheck(
    "escalation",
    "escalation chains within --max-wait",
    "following timeout branches from any route, a contact leaves the queue within the limit",
    needs="--max-wait",
)
REASSIGN_BRANCHES = PolicyCheck(
    "reassign_branches",
    "every reassign branch can assign",
    "after a release, the route the contact goes to has someone besides the user just released "
    "(team and space pools are read from --snapshot when given)",
)
WAIT_CHAINS = PolicyCheck(
    "wait_chains",
    "wait chains through releases within --max-wait",
    "following timeout and reassign branches from any route, a contact that is released along the way "
    "leaves routing within the limit",
    needs="--max-wait",
)
POLICY_CHECKS = (SHADOWED_ROUTES, IMPOSSIBLE_FILTERS, STARVED_USERS, ESCALATION, REASSIGN_BRANCHES, WAIT_CHAINS)


@dataclass(frozen=True)
class Wait:
    """One step of a chain of waits: a queue's timeout or a `reassign`, and the route it hands over to."""

    seconds: int
    text: str  # `tier1 15m`, `sticky away 2m`, `triage 30m + unanswered 5m`
    target: str | None  # a route's name, UNASSIGN_BRANCH, or None: the contact fails
    releases: bool


@dataclass(frozen=True)
class Chain:
    start: CompiledRoute
    steps: tuple[str, ...]
    seconds: int
    releases: bool  # some step is a release

    @property
    def path(self) -> str:
        return " -> ".join(self.steps)


@dataclass(frozen=True)
class Sample:
    contact: dict[str, Any]
    moment: dict[str, Any]


class PolicyReview:
    """The policy checks over one policy, vocabulary and (optionally) snapshot."""

    def __init__(self, policy: CompiledPolicy, words: Vocabulary, snapshot: Snapshot | None, file: str, seed: int = 0):
        self.policy, self.snapshot, self.file = policy, snapshot, file
        self.samples = list(_samples(policy, words, seed))
        self.chosen_for: dict[str, list[Sample]] = {route.name: [] for route in policy.routes}
        for sample in self.samples:
            route = policy.select(sample.contact, sample.moment)
            if route is not None:
                self.chosen_for[route.name].append(sample)
        self.reachable = self._reachable()
        self.seen_by = self._seen_by()
        self.users = snapshot.roster().users if snapshot is not None else {}

    def finding_at(self, code: Code, message: str, place: Position, hint: str | None = None) -> Diagnostic:
        """A finding about one option of a route, placed on it."""
        in_folder = place.file and place.file != self.policy.policy.file  # a route of a folder: its own file
        file = place.file if in_folder else self.file
        end = (place.end_line, place.end_column) if place.end_line else (None, None)
        return Diagnostic(file, place.line, place.column, message, hint, code.severity, code, *end)

    def finding(self, code: Code, message: str, route: CompiledRoute | None = None) -> Diagnostic:
        """A finding about a route, placed from its `route` keyword to the end of its name; or about no route."""
        if route is None:
            return Diagnostic(self.file, 0, 0, message, severity=code.severity, code=code)
        start, name = route.route.position, route.route.name_position
        in_folder = start.file and start.file != self.policy.policy.file  # a route of a folder: its own file
        end = (name.end_line, name.end_column) if name.end_line else (None, None)
        file = start.file if in_folder else self.file
        return Diagnostic(file, start.line, start.column, message, None, code.severity, code, *end)

    def _reachable(self) -> set[str]:
        chosen = [self.policy.by_name[name] for name, samples in self.chosen_for.items() if samples]
        return {name for route in chosen for name in self._branched_to(route)}

    def _branched_to(self, start: CompiledRoute) -> list[str]:
        """The route and every route its timeout and reassign branches lead to, which run whatever their `when`s say."""
        reached, frontier = [start.name], [start.name]
        while frontier:
            route = self.policy.by_name[frontier.pop()].route
            for branch in (route.branch, *(reassign.branch for reassign in route.reassigns)):
                if branch is not None and branch != UNASSIGN_BRANCH and branch not in reached:
                    reached.append(branch)
                    frontier.append(branch)
        return reached

    def _seen_by(self) -> dict[str, list[Sample]]:
        """The contacts each route sees: those chosen for it, and those its branches hand over."""
        seen: dict[str, list[Sample]] = {name: [] for name in self.chosen_for}
        for route in self.policy.routes:
            samples = self.chosen_for[route.name]
            for name in self._branched_to(route) if samples else ():
                seen[name].extend(samples)
        return seen

    # ------------------------------------------------------------- routes

    def shadowed_routes(self) -> list[Diagnostic]:
        return [
            self.finding(
                codes.UNREACHABLE_ROUTE,
                f"route `{route.name}` can never be chosen: {self._why_unreachable(route)}",
                route,
            )
            for route in self.policy.routes
            if route.name not in self.reachable
        ]

    def _why_unreachable(self, route: CompiledRoute) -> str:
        earlier = self.policy.routes[: route.index]
        catch_all = next((other for other in earlier if other.route.when is None), None)
        if catch_all is not None:
            return f"route `{catch_all.name}` above it has no `when` and takes every contact"
        same = next((other for other in earlier if other.route.when == route.route.when), None)
        if same is not None:
            return f"route `{same.name}` above it has the same `when`"
        holding = [sample for sample in self.samples if route.holds(sample.contact, sample.moment)]
        if not holding:
            return f"its `when` held for none of {plural(len(self.samples), 'sampled contact')}"
        takers: dict[str, int] = {}
        for sample in holding:
            taker = self.policy.select(sample.contact, sample.moment)
            assert taker is not None  # `route` holds for the sample: some route takes it
            takers[taker.name] = takers.get(taker.name, 0) + 1
        taken = ", ".join(f"`{name}` ({count})" for name, count in takers.items())
        held_for = (
            "the one its `when` holds for is"
            if len(holding) == 1
            else f"the {len(holding):,} its `when` holds for are all"
        )
        return f"of {plural(len(self.samples), 'sampled contact')}, {held_for} taken first by {taken}"

    # --------------------------------------------------------------- users

    def impossible_filters(self) -> list[Diagnostic]:
        findings = []
        for route in self._reachable_pool_routes():
            pool = self._pool(route)
            if not pool:
                where = f"team {route.team!r} has" if route.kind == RouteKind.TEAM else "the space has"
                message = f"route `{route.name}`: {where} no users (not deleted) in the snapshot"
                findings.append(self.finding(codes.EMPTY_POOL, message, route))
            elif route.filters and not any(self._can_pass(route, user) for user in pool):
                message = (
                    f"route `{route.name}`: "
                    f"{'the one user' if len(pool) == 1 else f'none of the {len(pool):,} users'} in its pool "
                    f"{'cannot' if len(pool) == 1 else 'can'} pass {self._blocking_filters(route, pool)}"
                )
                findings.append(self.finding(codes.FILTER_NEVER_PASSES, message, route))
        return findings

    def _blocking_filters(self, route: CompiledRoute, pool: list[User]) -> str:
        blocking = [
            format_expression(conjunct, Scope.USER.value)
            for conjunct, condition in zip(route.conjuncts, route.filters)
            if not any(
                self._passes(user, sample, lambda u, c, n, f=condition: f(u, c, n))
                for user in pool
                for sample in self._samples_for(route)
            )
        ]
        if blocking:
            return " and ".join(f"`only {text}`" for text in blocking)
        return "its filters together: " + " and ".join(
            f"`only {format_expression(c, Scope.USER.value)}`" for c in route.conjuncts
        )

    def starved_users(self) -> list[Diagnostic]:
        """Starved users, grouped by why, so a whole team left out reads as one line."""
        if any(self._names_any_user(route) for route in self._reachable_routes(RouteKind.USER)):
            return []
        named = {target for route in self._reachable_routes(RouteKind.USER) if (target := self._named_user(route))}
        starved: dict[str, list[str]] = {}
        assert self.snapshot is not None  # a check that needs --snapshot
        for record in self.snapshot.users:
            if not record.deleted and record.id not in named:
                reason = self._why_starved(self._user(record.id))
                if reason is not None:
                    starved.setdefault(reason, []).append(record.id)
        return [
            self.finding(
                codes.STARVED_USERS,
                f"{'user' if len(ids) == 1 else 'users'} {', '.join(ids)} can never be chosen: {reason}",
            )
            for reason, ids in starved.items()
        ]

    def _why_starved(self, user: User) -> str | None:
        in_pools = [route for route in self._reachable_pool_routes() if user in self._pool(route)]
        if any(self._can_pass(route, user) for route in in_pools):
            return None
        if not in_pools:
            teams = sorted({route.team for route in self._reachable_routes(RouteKind.TEAM) if route.team is not None})
            if self._reachable_routes(RouteKind.SPACE):
                return "no reachable route assigns to the space or to their teams"
            return f"in none of the teams a reachable route assigns to ({', '.join(teams) or 'none'})"
        return "they fail the filters of " + ", ".join(
            f"`{route.name}` ({self._blocking_filters(route, [user])})" for route in in_pools
        )

    def _can_pass(self, route: CompiledRoute, user: User) -> bool:
        return any(self._passes(user, sample, route.eligible) for sample in self._samples_for(route))

    def _passes(self, user: User, sample: Sample, condition) -> bool:
        return any(condition(variant, sample.contact, sample.moment) for variant in _best_states(user))

    def _samples_for(self, route: CompiledRoute) -> list[Sample]:
        return self.seen_by[route.name]

    def _reachable_routes(self, kind: RouteKind) -> list[CompiledRoute]:
        return [route for route in self.policy.routes if route.name in self.reachable and route.kind == kind]

    def _reachable_pool_routes(self) -> list[CompiledRoute]:
        return self._reachable_routes(RouteKind.TEAM) + self._reachable_routes(RouteKind.SPACE)

    def _names_any_user(self, route: CompiledRoute) -> bool:
        action = route.route.action  # a user route's
        return isinstance(action, AssignToUser) and any(
            field.scope == Scope.CONTACT for field in fields_of(action.user)
        )

    def _named_user(self, route: CompiledRoute) -> str | None:
        assert route.target_user is not None  # asked of user routes only
        value = route.target_user(None, {}, {})
        return str(value) if value is not None else None

    def _pool(self, route: CompiledRoute) -> list[User]:
        assert self.snapshot is not None  # asked by the checks that need --snapshot
        users = [self._user(record.id) for record in self.snapshot.users if not record.deleted]
        if route.kind == RouteKind.TEAM:
            users = [user for user in users if route.team in user.teams]
        return users

    def _user(self, user_id: str) -> User:
        return self.users[user_id]

    # ---------------------------------------------------------- escalation

    def escalation(self, max_wait_seconds: int | None) -> tuple[list[Diagnostic], str]:
        """Chains over the limit (none without one), and a line on the longest chain."""
        chains = [
            self._chain(route)
            for route in self.policy.routes
            if route.name in self.chosen_for and self.chosen_for[route.name] and route.route.queues
        ]
        return self._held_to(chains, max_wait_seconds, codes.ESCALATION_TOO_LONG, "no route queues")

    def _held_to(
        self, chains: list[Chain], max_wait_seconds: int | None, code: Code, none: str
    ) -> tuple[list[Diagnostic], str]:
        """The chains over the limit (none without one), and a line on the longest (`none` when there is none)."""
        if not chains:
            return [], none
        longest = max(chains, key=lambda chain: chain.seconds)
        summary = f"longest {format_duration(longest.seconds)}: {longest.path}"
        if max_wait_seconds is None:
            return [], summary
        findings = [
            self.finding(
                code,
                f"{chain.path} adds up to {format_duration(chain.seconds)}, "
                f"over the {format_duration(max_wait_seconds)} limit",
                chain.start,
            )
            for chain in chains
            if chain.seconds > max_wait_seconds
        ]
        return findings, summary

    def _chain(self, start: CompiledRoute) -> Chain:
        steps: list[str] = []
        total = 0
        route: CompiledRoute | None = start
        while route is not None and route.route.queues:
            total += route.route.timeout_seconds
            steps.append(f"{route.name} {format_duration(route.route.timeout_seconds)}")
            branch = route.route.branch
            if branch is None:
                steps.append("fails")
            elif branch == UNASSIGN_BRANCH:
                steps.append(UNASSIGN_BRANCH)
            route = self.policy.route_named(branch) if branch is not None and branch != UNASSIGN_BRANCH else None
            if route is not None and not route.route.queues:
                steps.append(route.name)
        return Chain(start, tuple(steps), total, releases=False)

    # ------------------------------------------------------------ reassign

    def reassign_branches(self) -> tuple[list[Diagnostic], str | None]:
        """Reassigns whose branch has nobody but the released user; a note when team pools were not read."""
        findings = []
        unread = False
        for route in self.policy.routes:
            for reassign in route.route.reassigns if route.name in self.reachable else ():
                if reassign.branch == UNASSIGN_BRANCH:
                    continue
                target = self.policy.by_name[reassign.branch or route.name]
                assignees, others = self._takers(route), self._takers(target)
                if assignees is None or others is None:
                    unread = unread or self.snapshot is None
                    continue
                if assignees and all(others <= {user} for user in assignees):
                    findings.append(self._never_assigns(route, reassign, target, sorted(others)))
        return findings, "team and space pools need --snapshot" if unread else None

    def _takers(self, route: CompiledRoute) -> set[str] | None:
        """Who the route can give a contact to: its named user, or its pool's users who can pass its filters;
        None when that is not known here (a user read from the contact, a pool without --snapshot)."""
        if route.kind == RouteKind.USER:
            return None if self._names_any_user(route) else {user for user in (self._named_user(route),) if user}
        if self.snapshot is None:
            return None
        return {user.id for user in self._pool(route) if self._can_pass(route, user)}

    def _never_assigns(
        self, route: CompiledRoute, reassign: Reassign, target: CompiledRoute, others: list[str]
    ) -> Diagnostic:
        option = f"`reassign when {reassign.trigger}` of route `{route.name}`"
        goes_to = (
            f"it routes the contact again by `{target.name}`"
            if reassign.branch is None
            else (f"it branches to `{target.name}`")
        )
        if target.kind == RouteKind.USER:
            who, then = f"which names {others[0]}", "it fails with user_released"
        else:
            who = f"whose only possible user is {others[0]}" if others else "where nobody can take it"
            then = "it queues until its timeout"
        message = f"{option} can never assign: {goes_to}, {who}, the user just released, so {then}"
        hint = "branch to a route whose pool has someone else, such as a team route"
        return self.finding_at(codes.REASSIGN_NEVER_ASSIGNS, message, reassign.position, hint)

    def wait_chains(self, max_wait_seconds: int | None) -> tuple[list[Diagnostic], str]:
        """Chains of waits through a release over the limit (none without one), and a line on the longest."""
        chains = [
            chain
            for route in self.policy.routes
            if self.chosen_for[route.name]
            for chain in (self._longest_chain(route),)
            if chain.releases
        ]
        return self._held_to(chains, max_wait_seconds, codes.WAIT_CHAIN_TOO_LONG, "no route reassigns")

    def _longest_chain(self, start: CompiledRoute) -> Chain:
        """The longest chain of waits from `start`, each timeout and reassign taken at most once along it
        (a release that comes back to a route already passed ends the chain there: `team again`)."""

        def longest(route: CompiledRoute, taken: frozenset[str], passed: frozenset[str]) -> Chain:
            best = Chain(start, (), 0, False)
            for key, wait in self._waits(route):
                if key in taken:
                    continue
                rest = Chain(start, (_ending(wait.target),), 0, False)
                if wait.target is not None and wait.target != UNASSIGN_BRANCH:
                    after = self.policy.by_name[wait.target]
                    rest = longest(after, taken | {key}, passed | {after.name})
                    if not rest.steps:
                        rest = replace(rest, steps=(after.name + (" again" if after.name in passed else ""),))
                chain = Chain(
                    start, (wait.text, *rest.steps), wait.seconds + rest.seconds, wait.releases or rest.releases
                )
                if chain.seconds > best.seconds:
                    best = chain
            return best

        return longest(start, frozenset(), frozenset({start.name}))

    def _waits(self, compiled: CompiledRoute) -> list[tuple[str, Wait]]:
        """What a contact can wait for on this route, each with a key: the queue's timeout (team and space
        routes), and each reassign, after the longest wait in the queue a drained contact can have had."""
        route, waits = compiled.route, []
        queued = route.timeout_seconds if route.queues else 0
        if route.queues:
            text = f"{route.name} {format_duration(queued)}"
            waits.append((f"{route.name} timeout", Wait(queued, text, route.branch, False)))
        for reassign in route.reassigns:
            held = f"{reassign.trigger} {format_duration(reassign.seconds)}"
            text = f"{route.name} {format_duration(queued)} + {held}" if route.queues else f"{route.name} {held}"
            target = reassign.branch or route.name
            waits.append((f"{route.name} {reassign.trigger}", Wait(queued + reassign.seconds, text, target, True)))
        return waits


def _ending(target: str | None) -> str:
    return "fails" if target is None else target


def _best_states(user: User) -> Iterator[User]:
    """The user as it could be later: any status, no open contacts or its own count, assigned never or as now."""
    for status in Status.texts():
        for open_count in sorted({0, user.open}):
            for last in {None, user.last_assigned_at}:
                yield replace(user, status=status, open=open_count, last_assigned_at=last)


def _samples(policy: CompiledPolicy, words: Vocabulary, seed: int) -> Iterator[Sample]:
    """Every combination of contact values (a seeded sample past MAX_CONTACT_SAMPLES), each at every
    moment when that stays within the budget, else at a seeded sample of at least 8 moments."""
    choices = [
        [(name, value) for value in _contact_values(attribute)] for name, attribute in words.contact_attributes.items()
    ]
    moments = _moments(policy)
    generator = random.Random(seed)
    combinations = 1
    for values in choices:
        combinations *= len(values)
    if combinations <= MAX_CONTACT_SAMPLES:
        contacts = [dict(combination) for combination in itertools.product(*choices)]
    else:
        contacts = [dict(generator.choice(values) for values in choices) for _ in range(MAX_CONTACT_SAMPLES)]
    per_contact = min(len(moments), max(8, MAX_CONTACT_SAMPLES // len(contacts)))
    for contact in contacts:
        fields = {**contact, ContactField.ID.value: "c", ContactField.ASSIGNEE.value: None}
        for moment in moments if per_contact == len(moments) else generator.sample(moments, per_contact):
            yield Sample(fields, moment)


def _contact_values(attribute) -> list[Any]:
    if attribute.is_list:
        return (
            [None, []]
            + [[value] for value in attribute.values]
            + ([list(attribute.values)] if attribute.values else [])
        )
    return [None] + list(attribute.values or ("x",))


def _moments(policy: CompiledPolicy) -> list[dict[str, Any]]:
    expressions = [
        expr
        for route in policy.routes
        for expr in ((route.route.when,) if route.route.when is not None else ()) + route.conjuncts
    ]
    reads_now = any(field.scope == Scope.NOW for expr in expressions for field in fields_of(expr))
    if not reads_now:
        return [now_fields(MONDAY, policy.zone)]
    # Every hour of a week, at :00 and :30, in the policy's zone; and of every day the policy names
    # for `now.date` (a holiday list), which the week would miss.
    starts = [MONDAY + timedelta(days=day) for day in range(7)] + _named_days(expressions, policy)
    return [now_fields(start + timedelta(minutes=30 * step), policy.zone) for start in starts for step in range(48)]


def _named_days(expressions: list[Expr], policy: CompiledPolicy) -> list[datetime]:
    """The midnights (in the policy's zone, as UTC) of the `"YYYY-MM-DD"` texts compared with `now.date`."""
    texts: set[str] = set()
    stack = list(expressions)
    while stack:
        expr = stack.pop()
        stack.extend(children(expr))
        if isinstance(expr, Compare) and NOW_DATE in (expr.left, expr.right):
            other = expr.right if expr.left == NOW_DATE else expr.left
            items = other.items if isinstance(other, ListLiteral) else (other,)
            texts.update(item.value for item in items if isinstance(item, Literal) and isinstance(item.value, str))
    days = []
    for text in sorted(texts):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            continue
        midnight = datetime(day.year, day.month, day.day, tzinfo=policy.zone or timezone.utc)
        days.append(midnight.astimezone(timezone.utc).replace(tzinfo=None))
    return days
