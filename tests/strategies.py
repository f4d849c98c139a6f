"""Hypothesis strategies for snapshots, contacts and policies, shared by the engine tests.

Policies are built as syntax trees from a menu of the conditions ops teams
write, so the engine is exercised independently of the parser.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pyarrow as pa
from hypothesis import strategies as st

from rota.dsl.ast import (
    AssignToSpace,
    AssignToTeam,
    AssignToUser,
    BoolOp,
    Compare,
    Field,
    ListLiteral,
    Literal,
    Not,
    Only,
    Policy,
    Priority,
    Route,
    Timeout,
    Unassign,
    Using,
)
from rota.engine import Contact, Roster, User

# Byte order matters for round-robin: mixed case and non-ASCII ids on purpose.
USER_IDS = ["u1", "u2", "u3", "u10", "A7", "b", "zé", "Z"]
TEAMS = ["Alpha", "Beta"]
MOMENTS = [datetime(2026, 11, 1, 9), datetime(2026, 11, 2, 9), datetime(2026, 11, 2, 9, 30)]
NOW = datetime(2026, 11, 25, 10, 0)


CONTACT_CONDITIONS = [
    Compare("in", Literal("vip"), Field("contact", "tags")),
    Compare(">=", Field("contact", "tier"), Literal(2)),
    Compare("==", Field("contact", "language"), Literal("es")),
    Not(Compare("==", Field("contact", "language"), Literal("en"))),
    Compare("!=", Field("contact", "last_agent"), Literal(None)),
    BoolOp(
        "or", Compare("==", Field("contact", "tier"), Literal(None)), Compare("<", Field("contact", "tier"), Literal(2))
    ),
    Compare("in", Field("contact", "language"), ListLiteral((Literal("es"), Literal("fr")))),
    Compare("in", Field("now", "date"), ListLiteral((Literal("2026-12-25"), Literal("2026-11-25")))),  # NOW's date
    Compare("not in", Field("now", "date"), ListLiteral((Literal("2026-12-25"),))),
]

USER_CONDITIONS = [
    Field("user", "online"),
    Compare("<", Field("user", "open"), Literal(3)),
    Compare(">=", Literal(2), Field("user", "open")),
    Compare("in", Literal("billing"), Field("user", "skills")),
    Compare("!=", Field("user", "status"), Literal("offline")),
    Compare("in", Field("contact", "language"), Field("user", "languages")),
    Compare(">=", Field("user", "level"), Field("contact", "tier")),
    Compare("<=", Field("user", "open"), Field("contact", "tier")),
    BoolOp(
        "or",
        Compare("==", Field("user", "last_assigned_at"), Literal(None)),
        Compare("<", Field("user", "open"), Literal(2)),
    ),
    Compare("in", Literal("Alpha"), Field("user", "teams")),
    BoolOp("and", Field("user", "online"), Compare("==", Field("user", "level"), Literal(None))),
    Compare(">", Field("user", "last_assigned_at"), Literal("2026-11-02T00:00:00Z")),
    BoolOp("or", Compare("!=", Field("now", "date"), Literal("2026-11-25")), Field("user", "online")),
]


@st.composite
def users(draw, min_size: int = 0) -> list[User]:
    ids = draw(st.lists(st.sampled_from(USER_IDS), unique=True, min_size=min_size, max_size=len(USER_IDS)))
    return [
        User(
            id=user_id,
            status=draw(st.sampled_from(["online", "online", "away", "offline"])),
            deleted=draw(st.sampled_from([False, False, False, True])),
            open=draw(st.integers(0, 4)),
            last_assigned_at=draw(st.sampled_from([None] + MOMENTS)),
            attributes={
                "skills": draw(st.lists(st.sampled_from(["billing", "tech"]), unique=True)),
                "languages": draw(st.one_of(st.none(), st.lists(st.sampled_from(["en", "es", "fr"]), unique=True))),
                "level": draw(st.one_of(st.none(), st.integers(1, 3))),
            },
        )
        for user_id in ids
    ]


@st.composite
def snapshots(draw, min_users: int = 0) -> tuple[list[User], list[tuple[str, str]], dict[str, str]]:
    people = draw(users(min_users))
    ids = [person.id for person in people]
    memberships = [(team, user_id) for team in TEAMS for user_id in ids if draw(st.booleans())]
    cursor_choices = ids + ["u15", "a", "zz"]
    cursors = {pool: draw(st.sampled_from(cursor_choices)) for pool in TEAMS + ["*"] if draw(st.booleans())}
    return people, memberships, cursors


@st.composite
def contacts(draw, user_ids: list[str], min_size: int = 0, max_size: int = 25) -> list[Contact]:
    someone = st.sampled_from(user_ids + ["ghost"]) if user_ids else st.just("ghost")
    count = draw(st.integers(min_size, max_size))
    return [
        Contact(
            id=f"c{index}",
            assignee=draw(st.one_of(st.none(), someone)),
            attributes={
                "language": draw(st.sampled_from([None, "en", "es", "fr"])),
                "tags": draw(st.one_of(st.none(), st.lists(st.sampled_from(["vip", "billing"]), unique=True))),
                "tier": draw(st.one_of(st.none(), st.integers(1, 3))),
                "last_agent": draw(st.one_of(st.none(), someone)),
            },
        )
        for index in range(count)
    ]


@st.composite
def routes(draw, name: str) -> Route:
    when = draw(st.one_of(st.none(), st.sampled_from(CONTACT_CONDITIONS)))
    action = draw(
        st.sampled_from(
            [
                AssignToTeam("Alpha"),
                AssignToTeam("Beta"),
                AssignToTeam("Nobody"),
                AssignToSpace(),
                AssignToSpace(),
                AssignToUser(Field("contact", "last_agent")),
                Unassign(),
            ]
        )
    )
    options = []
    if isinstance(action, (AssignToTeam, AssignToSpace)):
        options.append(Using(draw(st.sampled_from(["round_robin", "least_open"]))))
        options.extend(Only(condition) for condition in draw(st.lists(st.sampled_from(USER_CONDITIONS), max_size=3)))
        options.append(Priority(draw(st.integers(-1, 2))))
        options.append(Timeout(draw(st.sampled_from([60, 1800, 7 * 86400]))))
    return Route(name=name, when=when, action=action, options=tuple(options))


@st.composite
def policies(draw) -> Policy:
    count = draw(st.integers(1, 4))
    return Policy(routes=tuple(draw(routes(f"r{index}")) for index in range(count)))


def roster_of(people: list[User], memberships, cursors) -> Roster:
    """A fresh roster (users copied, so two paths never share state)."""
    copies = [User(**{slot: getattr(person, slot) for slot in User.__slots__}) for person in people]
    for copy in copies:
        copy.teams = []
        copy.attributes = dict(copy.attributes)
    return Roster.build(copies, memberships, cursors)


def snapshot_connection(people: list[User], memberships, cursors) -> duckdb.DuckDBPyConnection:
    """The tables rota.storage would have loaded, built directly."""
    connection = duckdb.connect()
    users_table = pa.table(
        {
            "id": pa.array([p.id for p in people], pa.string()),
            "name": pa.array([p.name for p in people], pa.string()),
            "status": pa.array([p.status for p in people], pa.string()),
            "deleted": pa.array([p.deleted for p in people], pa.bool_()),
            "open_contacts": pa.array([p.open for p in people], pa.int64()),
            "last_assigned_at": pa.array([p.last_assigned_at for p in people], pa.timestamp("us")),
            "skills": pa.array([p.attributes["skills"] for p in people], pa.list_(pa.string())),
            "languages": pa.array([p.attributes["languages"] for p in people], pa.list_(pa.string())),
            "level": pa.array([p.attributes["level"] for p in people], pa.int64()),
        }
    )
    connection.register("users_input", users_table)
    connection.execute("CREATE TABLE users AS SELECT * FROM users_input")
    connection.execute("CREATE TABLE memberships (team VARCHAR, user_id VARCHAR)")
    if memberships:
        connection.executemany("INSERT INTO memberships VALUES (?, ?)", memberships)
    connection.execute("CREATE TABLE rotation (pool VARCHAR, last_user VARCHAR)")
    if cursors:
        connection.executemany("INSERT INTO rotation VALUES (?, ?)", list(cursors.items()))
    return connection


def contacts_table(items: list[Contact]) -> pa.Table:
    return pa.table(
        {
            "id": pa.array([c.id for c in items], pa.string()),
            "assignee": pa.array([c.assignee for c in items], pa.string()),
            "language": pa.array([c.attributes["language"] for c in items], pa.string()),
            "tags": pa.array([c.attributes["tags"] for c in items], pa.list_(pa.string())),
            "tier": pa.array([c.attributes["tier"] for c in items], pa.int64()),
            "last_agent": pa.array([c.attributes["last_agent"] for c in items], pa.string()),
        }
    )
