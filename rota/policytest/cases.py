"""The test file format (docs/testing.md): fixtures, cases of contacts or events, expectations.

`read_test_file` turns a `NAME.test.yaml` into a `TestFile`, or reports every problem it
has (T7xx diagnostics, each at its line and column) as `TestFileError`. Times without a
zone are in the policy's timezone, `+30m` is counted from the case's clock.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rota.diagnostics import (
    TEST_BAD_VALUE,
    TEST_DUPLICATE,
    TEST_MISSING_KEY,
    TEST_NOT_YAML,
    TEST_UNKNOWN_NAME,
    Diagnostic,
)
from rota.engine import Event, event_from_record
from rota.vocabulary import EventType, Outcome, Reason, Status

from .values import ValueReader, listed
from .yaml_nodes import Node, NotYaml, Problems, read_yaml

TEST_SUFFIX = ".test.yaml"


class Key(str, enum.Enum):
    """The keys of the format, as written in a test file."""

    POLICY = "policy"
    AT = "at"
    USERS = "users"
    TEAMS = "teams"
    ROTATION = "rotation"
    CASES = "cases"
    NAME = "name"
    CONTACTS = "contacts"
    EVENTS = "events"
    UNTIL = "until"
    EXPECT = "expect"
    ID = "id"
    STATUS = "status"
    DELETED = "deleted"
    OPEN = "open"
    LAST_ASSIGNED_AT = "last_assigned_at"
    ATTRS = "attrs"
    ASSIGNEE = "assignee"
    TYPE = "type"
    CONTACT = "contact"
    USER = "user"
    TEAM = "team"
    ROUTE = "route"
    OUTCOME = "outcome"
    REASON = "reason"
    DEADLINE = "deadline"
    TIMED_OUT = Outcome.TIMED_OUT.value  # `timed_out: true`: a row of that outcome
    RELEASED = Outcome.RELEASED.value


def _keys(*keys: Key) -> tuple[str, ...]:
    return tuple(key.value for key in keys)


FILE_KEYS = _keys(Key.POLICY, Key.AT, Key.USERS, Key.TEAMS, Key.ROTATION, Key.CASES)
CASE_KEYS = _keys(Key.NAME, Key.AT, Key.USERS, Key.ROTATION, Key.CONTACTS, Key.EVENTS, Key.UNTIL, Key.EXPECT)
USER_KEYS = _keys(Key.ID, Key.NAME, Key.STATUS, Key.DELETED, Key.OPEN, Key.LAST_ASSIGNED_AT, Key.TEAMS, Key.ATTRS)
CONTACT_KEYS = _keys(Key.ID, Key.ASSIGNEE, Key.ATTRS, Key.EXPECT)
EVENT_KEYS = _keys(Key.AT, Key.TYPE, Key.CONTACT, Key.USER, Key.TEAM, Key.STATUS, Key.ATTRS, Key.EXPECT)
# What an expectation compares with the contact's last decision, and what it looks for among its rows.
LAST_ROW_KEYS = _keys(Key.ROUTE, Key.OUTCOME, Key.USER, Key.REASON, Key.DEADLINE)
EXPECT_KEYS = _keys(Key.CONTACT, *map(Key, LAST_ROW_KEYS), Key.TIMED_OUT, Key.RELEASED)
# Rows a timer writes before the contact's fate: looked for with `timed_out:` and `released:`, never its last row.
TIMER_OUTCOMES = (Outcome.TIMED_OUT.value, Outcome.RELEASED.value)
FATE_OUTCOMES = tuple(outcome for outcome in Outcome.texts() if outcome not in TIMER_OUTCOMES)


@dataclass(frozen=True)
class Check:
    """One key of an expectation: `key` (a Key's text), the value wanted, and where it is written."""

    key: str
    want: Any  # for `user`, a tuple of ids means "one of these"
    line: int
    column: int


@dataclass(frozen=True)
class Expectation:
    line: int
    column: int
    contact: str | None
    checks: tuple[Check, ...]


@dataclass(frozen=True)
class Step:
    """One event of a case (a contact to route is a `route` event at the case's clock)."""

    event: Event
    line: int
    expectations: tuple[Expectation, ...] = ()


@dataclass
class UserFixture:
    id: str
    line: int
    status: str = Status.ONLINE.value
    name: str | None = None
    deleted: bool = False
    open: int = 0
    last_assigned_at: datetime | None = None
    teams: list[str] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Case:
    name: str
    line: int
    clock: datetime
    users: dict[str, UserFixture]
    memberships: tuple[tuple[str, str], ...]  # (team, user id)
    cursors: dict[str, str]
    steps: tuple[Step, ...]
    until: datetime
    expectations: tuple[Expectation, ...]  # at the end of the case


@dataclass(frozen=True)
class TestFile:
    path: Path
    policy: Path
    cases: tuple[Case, ...]


class TestFileError(Exception):
    """A test file that cannot be run, with every problem found in it."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = diagnostics
        super().__init__("\n".join(d.headline() for d in diagnostics))


def default_policy(test_path: Path) -> Path:
    """The policy a test file is for when it names none: `NAME.rota` beside `NAME.test.yaml`."""
    return test_path.with_name(test_path.name[: -len(TEST_SUFFIX)] + ".rota")


def declared_policy(test_path: Path, text: str) -> Path:
    """The policy the file names (`policy:`, relative to the file), or the one beside it of its name."""
    try:
        root = read_yaml(text)
    except NotYaml:
        root = None
    if root is not None and root.is_mapping:
        for key, value in root.items():
            if key.value() == Key.POLICY.value and value.is_scalar and isinstance(value.value(), str):
                return test_path.parent / value.value()
    return default_policy(test_path)


def read_test_file(path: Path, text: str, zone: ZoneInfo | None) -> TestFile:
    """The test file, its times read in the policy's timezone `zone`; TestFileError lists every problem."""
    problems = Problems(str(path))
    try:
        root = read_yaml(text)
    except NotYaml as error:
        diagnostic = Diagnostic(
            str(path),
            error.line,
            error.column,
            "this is not YAML the test format can read",
            "check the indentation here, and quote a value that holds `: ` or starts with `#`, `[` or `{`",
            code=TEST_NOT_YAML,
        )
        raise TestFileError([diagnostic]) from None
    reader = _Reader(problems, zone)
    cases = reader.file(root) if root is not None else ()
    if root is None:
        problems.add(None, "the test file is empty", TEST_MISSING_KEY, "give it `users` and `cases` (docs/testing.md)")
    if problems.found:
        raise TestFileError(sorted(problems.found, key=Diagnostic.sort_key))
    return TestFile(path, declared_policy(path, text), cases)


class _Reader(ValueReader):
    """Reads the nodes of one file into cases; every problem goes to `problems`, reading carries on past it."""

    # -------------------------------------------------------------- structure

    def file(self, root: Node) -> tuple[Case, ...]:
        keys = self.mapping(root, FILE_KEYS, "the test file", required=_keys(Key.CASES))
        if keys is None:
            return ()
        clock = self.time(keys[Key.AT.value], None) if Key.AT.value in keys else None
        users = self.users(keys.get(Key.USERS.value), {})
        teams = self.teams(keys.get(Key.TEAMS.value), users)
        cursors = self.rotation(keys.get(Key.ROTATION.value)) or {}
        names: set[str] = set()
        cases = []
        for node in self.elements(keys.get(Key.CASES.value), "`cases`"):
            case = self.case(node, clock, users, teams, cursors, names)
            if case is not None:
                cases.append(case)
        return tuple(cases)

    def case(
        self,
        node: Node,
        clock: datetime | None,
        users: dict[str, UserFixture],
        teams: list[tuple[str, str]],
        cursors: dict[str, str],
        names: set[str],
    ) -> Case | None:
        keys = self.mapping(node, CASE_KEYS, "a case", required=_keys(Key.NAME))
        if keys is None:
            return None
        name = self.text(keys.get(Key.NAME.value), "a case's `name`") or ""
        if name in names:
            self.problems.add(keys[Key.NAME.value], f"two cases are named {name!r}", TEST_DUPLICATE)
        names.add(name)
        if Key.AT.value in keys:
            clock = self.time(keys[Key.AT.value], None)
            if clock is None:  # said already: not a time
                return None
        if clock is None:
            self.problems.add(node, f"case {name!r} has no clock", TEST_MISSING_KEY, "give `at:` in the file or case")
            return None
        case_users = {user_id: _copy(user) for user_id, user in users.items()}
        self.users(keys.get(Key.USERS.value), case_users)
        memberships = {(team, user_id) for team, user_id in teams if user_id in case_users}
        memberships |= {(team, user.id) for user in case_users.values() for team in user.teams}
        if Key.ROTATION.value in keys:
            cursors = self.rotation(keys[Key.ROTATION.value]) or {}
        steps = self.steps(keys, clock, name, node)
        end = self.end_of_case(keys, name, node, steps, case_users)
        last = max((step.event.at for step in steps), default=clock)
        until = self.until(keys.get(Key.UNTIL.value), clock, last)
        return Case(name, node.line, clock, case_users, tuple(sorted(memberships)), dict(cursors), steps, until, end)

    def end_of_case(
        self, keys: dict[str, Node], name: str, node: Node, steps: tuple[Step, ...], users: dict[str, UserFixture]
    ) -> tuple[Expectation, ...]:
        """The expectations at the end of the case, once every expectation of the case is known to name
        its case's contacts and users and the case to expect something."""
        contacts = {step.event.contact for step in steps if step.event.contact is not None}
        only_contact = next(iter(contacts)) if len(contacts) == 1 else None  # what an end expectation is about
        end = self.expectations(keys.get(Key.EXPECT.value), only_contact)
        users_named = set(users) | {step.event.user for step in steps if step.event.user is not None}
        self.unknown_names([*end, *(e for step in steps for e in step.expectations)], contacts, users_named)
        if steps and not end and not any(step.expectations for step in steps):
            self.problems.add(
                node, f"case {name!r} expects nothing", TEST_MISSING_KEY,
                "give `expect:` after a contact or an event, or at the end of the case",
            )  # fmt: skip
        return end

    def until(self, node: Node | None, clock: datetime, last: datetime) -> datetime:
        """How far the clock runs: `until`, or by default the last event's time (as `rota replay`)."""
        until = self.time(node, clock) if node is not None else None
        if until is not None and until < last:
            self.problems.add(node, "`until` is before the case's last event", TEST_BAD_VALUE, "run the clock past it")
        return until or last

    def steps(self, keys: dict[str, Node], clock: datetime, name: str, node: Node) -> tuple[Step, ...]:
        contacts, events = keys.get(Key.CONTACTS.value), keys.get(Key.EVENTS.value)
        if (contacts is None) == (events is None):
            self.problems.add(
                node,
                f"case {name!r} needs either `contacts` or `events`",
                TEST_MISSING_KEY,
                "`contacts` routes contacts at the case's clock; `events` gives a replay's events",
            )
            return ()
        if contacts is not None:
            return tuple(step for item in self.elements(contacts, "`contacts`") if (step := self.contact(item, clock)))
        steps: list[Step] = []
        for item in self.elements(events, "`events`"):
            previous = steps[-1].event.at if steps else clock
            step = self.event(item, clock, previous)
            if step is not None and step.event.at < previous:
                self.problems.add(
                    item, "this event's time is before the event above it", TEST_BAD_VALUE,
                    "a case's events run one after another: list them in the order of their times",
                )  # fmt: skip
            if step is not None:
                steps.append(step)
        return tuple(steps)

    def contact(self, node: Node, clock: datetime) -> Step | None:
        keys = self.mapping(node, CONTACT_KEYS, "a contact", required=_keys(Key.ID))
        if keys is None:
            return None
        contact_id = self.identifier(keys[Key.ID.value], "a contact's `id`")
        attrs = self.attrs(keys.get(Key.ATTRS.value))
        if Key.ASSIGNEE.value in keys:
            attrs[Key.ASSIGNEE.value] = self.identifier(keys[Key.ASSIGNEE.value], "`assignee`")
        record = {Key.AT.value: clock.isoformat(), Key.TYPE.value: EventType.ROUTE.value, Key.ATTRS.value: attrs}
        record[Key.CONTACT.value] = contact_id
        return self.step(node, record, keys.get(Key.EXPECT.value), contact_id)

    def event(self, node: Node, clock: datetime, previous: datetime) -> Step | None:
        keys = self.mapping(node, EVENT_KEYS, "an event", required=_keys(Key.TYPE))
        if keys is None:
            return None
        at = self.time(keys[Key.AT.value], clock) if Key.AT.value in keys else previous
        record: dict[str, Any] = {key: node.value() for key, node in keys.items() if key not in _keys(Key.EXPECT)}
        record[Key.AT.value] = (at or previous).isoformat()
        contact = record.get(Key.CONTACT.value)
        return self.step(node, record, keys.get(Key.EXPECT.value), None if contact is None else str(contact))

    def step(self, node: Node, record: dict, expect: Node | None, contact: str | None) -> Step | None:
        try:
            event = event_from_record(record)
        except ValueError as error:
            self.problems.add(node, str(error), TEST_BAD_VALUE)
            return None
        return Step(event, node.line, self.expectations(expect, contact))

    # ----------------------------------------------------------- expectations

    def expectations(self, node: Node | None, contact: str | None) -> tuple[Expectation, ...]:
        if node is None:
            return ()
        items = self.elements(node, "`expect`") if node.is_list else [node]
        return tuple(e for item in items if (e := self.expectation(item, contact)) is not None)

    def expectation(self, node: Node, contact: str | None) -> Expectation | None:
        keys = self.mapping(node, EXPECT_KEYS, "an expectation")
        if keys is None:
            return None
        if Key.CONTACT.value in keys:
            contact = self.identifier(keys[Key.CONTACT.value], "an expectation's `contact`")
        if contact is None:
            self.problems.add(
                node, "this expectation names no contact", TEST_MISSING_KEY,
                "give `contact: ID` (it may be left out where the case has one contact)",
            )  # fmt: skip
        checks = [self.check(key, value) for key, value in keys.items() if key != Key.CONTACT.value]
        if not checks and not node.raw.value:  # (unknown keys are reported as such)
            self.problems.add(node, "this expectation checks nothing", TEST_MISSING_KEY, f"give {listed(EXPECT_KEYS)}")
        return Expectation(node.line, node.column, contact, tuple(check for check in checks if check is not None))

    def unknown_names(self, expectations: list[Expectation], contacts: set[str], users: set[str]) -> None:
        """A contact no event of the case routes, or a user it never has, is a typo: it could never be met."""
        for expectation in expectations:
            if expectation.contact is not None and expectation.contact not in contacts:
                self._unknown(expectation.line, expectation.column, f"contact {expectation.contact}", contacts)
            for check in expectation.checks:
                wanted = check.want if isinstance(check.want, tuple) else (check.want,)
                if check.key in (Key.USER.value, Key.RELEASED.value):
                    for user in (u for u in wanted if isinstance(u, str) and u not in users):
                        self._unknown(check.line, check.column, f"user {user}", users)

    def _unknown(self, line: int, column: int, what: str, known: set[str]) -> None:
        self.problems.found.append(
            Diagnostic(
                self.problems.file,
                line,
                column,
                f"this case has no {what}",
                code=TEST_UNKNOWN_NAME,
                hint=f"it has {', '.join(sorted(known)) or 'none'}",
            )  # fmt: skip
        )

    def check(self, key: str, node: Node) -> Check | None:
        value = node.value()
        if key == Key.OUTCOME.value:
            if value in TIMER_OUTCOMES:
                self.problems.add(
                    node, f"`outcome` is the contact's last decision, never {value}", TEST_BAD_VALUE,
                    f"write `{value}: true` to look for a {value} row",
                )  # fmt: skip
                return None
            value = self.one_of(node, FATE_OUTCOMES, "outcome")
        elif key == Key.REASON.value:
            value = None if value is None else self.one_of(node, Reason.texts(), "reason")
        elif key == Key.USER.value:
            value = self.users_wanted(node)
        elif key == Key.DEADLINE.value:
            value = None if value is None else self.time(node, None)
        elif key == Key.TIMED_OUT.value:
            value = self.boolean(node, "`timed_out`")
        elif key == Key.RELEASED.value:
            value = value if isinstance(value, bool) else self.identifier(node, "`released` (true, false or a user)")
        elif value is not None:  # route
            value = self.identifier(node, "`route`")
        return Check(key, value, node.line, node.column)

    def users_wanted(self, node: Node) -> Any:
        """`user: u01`, `user: null` (nobody) or `user: [u01, u02]` (one of them)."""
        if node.is_list:
            return tuple(self.identifier(item, "a user id") for item in node.elements())
        return None if node.value() is None else self.identifier(node, "`user`")

    # --------------------------------------------------------------- fixtures

    def users(self, node: Node | None, users: dict[str, UserFixture]) -> dict[str, UserFixture]:
        """Reads `users` into `users`: a new id adds a user, a known one changes only the keys given."""
        seen: set[str] = set()
        for item in self.elements(node, "`users`"):
            keys = self.mapping(item, USER_KEYS, "a user", required=_keys(Key.ID))
            if keys is None:
                continue
            user_id = self.identifier(keys[Key.ID.value], "a user's `id`")
            if user_id in seen:
                self.problems.add(keys[Key.ID.value], f"user {user_id} is given twice", TEST_DUPLICATE)
            seen.add(user_id)
            user = users.setdefault(user_id, UserFixture(user_id, item.line))
            self.user_keys(keys, user)
        return users

    def user_keys(self, keys: dict[str, Node], user: UserFixture) -> None:
        for key, node in keys.items():
            if key == Key.STATUS.value:
                user.status = self.one_of(node, Status.texts(), "status") or user.status
            elif key == Key.NAME.value:
                user.name = self.text(node, "a user's `name`")
            elif key == Key.DELETED.value:
                user.deleted = self.boolean(node, "`deleted`")
            elif key == Key.OPEN.value:
                user.open = self.count(node, "`open` (the user's open contacts)")
            elif key == Key.LAST_ASSIGNED_AT.value:
                user.last_assigned_at = None if node.value() is None else self.time(node, None)
            elif key == Key.TEAMS.value:
                user.teams = self.texts(node, "`teams`")
            elif key == Key.ATTRS.value:
                user.attrs = {**user.attrs, **self.attrs(node)}

    def teams(self, node: Node | None, users: dict[str, UserFixture]) -> list[tuple[str, str]]:
        """`teams: {VIP Desk: [u01, u02]}`: memberships besides each user's own `teams`."""
        members = []
        for team, value in self.pairs(node, "`teams`"):
            for member in self.texts(value, f"team {team}'s members"):
                if member not in users:
                    self.problems.add(value, f"team {team} lists {member}, who is not in `users`", TEST_BAD_VALUE)
                members.append((team, member))
        return members

    def rotation(self, node: Node | None) -> dict[str, str] | None:
        """`rotation: {"*": u12, Spanish Desk: u05}`: the round-robin cursors, by pool."""
        if node is None:
            return None
        return {pool: self.identifier(value, f"the cursor of {pool}") for pool, value in self.pairs(node, "`rotation`")}

    def attrs(self, node: Node | None) -> dict[str, Any]:
        if node is None:
            return {}
        return {key: value.value() for key, value in self.pairs(node, "`attrs`")}


def _copy(user: UserFixture) -> UserFixture:
    return UserFixture(**{**user.__dict__, "teams": list(user.teams), "attrs": dict(user.attrs)})
