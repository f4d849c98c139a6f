"""SPEC 2.3: filters have two compiled paths, DuckDB SQL and Python; they must agree.

Random expressions, type mismatches and nulls included, are evaluated for
every (user, contact) pair both ways and compared value for value.
"""

from datetime import datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import contacts, contacts_table, roster_of, snapshot_connection, snapshots

from rota.dsl.ast import BoolOp, Compare, Field, ListLiteral, Literal, Not
from rota.engine.clock import now_fields
from rota.engine.evaluate import compile_expression
from rota.engine.snapshot import USERS_VIEW, contact_kinds, create_users_view, user_kinds
from rota.engine.sql import SqlCompiler, SqlScope

NOW_FIELDS = now_fields(datetime(2026, 11, 25, 10, 0), None)  # every `now.*` field: a Wednesday, 2026-11-25

operands = st.sampled_from(
    [
        Field("user", "open"),
        Field("user", "level"),
        Field("user", "status"),
        Field("user", "id"),
        Field("user", "online"),
        Field("user", "skills"),
        Field("user", "languages"),
        Field("user", "teams"),
        Field("user", "last_assigned_at"),
        Field("user", "missing"),
        Field("contact", "tier"),
        Field("contact", "language"),
        Field("contact", "tags"),
        Field("contact", "id"),
        Field("contact", "assignee"),
        Field("contact", "nothing"),
        Field("now", "hour"),
        Field("now", "weekday"),
        Field("now", "date"),
        Field("now", "minute"),
        Literal(2),
        Literal(1.5),
        Literal("es"),
        Literal("billing"),
        Literal("u2"),
        Literal(True),
        Literal(None),
        Literal("2026-11-02T00:00:00Z"),
        ListLiteral((Literal("es"), Literal("fr"))),
        ListLiteral((Literal(1), Literal(None))),
        ListLiteral(()),
        Literal("2026-11-25"),
        ListLiteral((Literal("2026-12-25"), Literal("2026-11-25"))),
    ]
)
comparisons = st.builds(
    Compare, st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in", "not in"]), operands, operands
)
expressions = st.recursive(
    st.one_of(comparisons, operands),
    lambda inner: st.one_of(st.builds(Not, inner), st.builds(BoolOp, st.sampled_from(["and", "or"]), inner, inner)),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshot=snapshots(min_users=1), expression=expressions, data=st.data())
def test_sql_and_python_agree(snapshot, expression, data):
    people = snapshot[0]
    items = data.draw(contacts([person.id for person in people], min_size=1, max_size=4))
    connection = snapshot_connection(*snapshot)
    create_users_view(connection)
    table = contacts_table(items)
    connection.register("contacts_input", table)
    compiler = SqlCompiler(SqlScope("u", user_kinds(connection), "c", contact_kinds(table.schema), NOW_FIELDS))
    sql_value, _ = compiler.value(expression)
    sql, parameters = compiler.statement(f"SELECT u.id, c.id, {sql_value} FROM {USERS_VIEW} u, contacts_input c")
    rows = connection.sql(sql, params=parameters).fetchall()
    from_sql = {(user_id, contact_id): value for user_id, contact_id, value in rows}

    evaluate = compile_expression(expression)
    roster = roster_of(*snapshot)
    for contact in items:
        for user in roster.users.values():
            python_value = evaluate(user, contact.fields, NOW_FIELDS)
            assert _same(from_sql[(user.id, contact.id)], python_value), (user.id, contact.id)


def _same(sql_value, python_value) -> bool:
    if isinstance(python_value, (list, tuple)) or isinstance(sql_value, (list, tuple)):
        return list(sql_value or []) == list(python_value or []) and (sql_value is None) == (python_value is None)
    return (
        sql_value == python_value
        and type(sql_value) is type(python_value)
        or (
            isinstance(sql_value, (int, float))
            and isinstance(python_value, (int, float))
            and not isinstance(sql_value, bool)
            and sql_value == python_value
        )
    )
