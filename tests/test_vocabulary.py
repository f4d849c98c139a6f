"""rota.vocabulary is the one place of the built-in names: every part reads its tables from there.

The type checker, the evaluator and the SQL compiler, rota.testing's
generators, simulate and the service know exactly the fields, statuses,
outcomes and weekdays the vocabulary lists, so a name added there reaches
all of them. What the engine stores and sends is plain text, never an enum
member (a pickled journal body is read back by a restricted unpickler).
"""

import ast
import pickle
from datetime import datetime
from pathlib import Path

import pytest

from rota import vocabulary
from rota.dsl import PolicyError, load_policy, type_check
from rota.dsl import ast as policy_ast
from rota.engine import (
    Engine,
    Event,
    Roster,
    User,
    clock,
    compile_policy,
    compiler,
    decisions,
    evaluate,
    scheduler,
    sql,
)
from rota.service import STATUSES as SERVICE_STATUSES
from rota.simulate.contacts import BUILT_IN_CONTACT_FIELDS as SIMULATED_CONTACT_FIELDS
from rota.testing import strategies
from rota.vocabulary import Logic, Outcome, Reason, RouteKind, Scope, Status, Weekday

ROOT = Path(__file__).parent.parent
NOW = datetime(2026, 11, 23, 9, 0)


def test_the_type_checker_knows_the_vocabulary_s_fields_with_their_kinds():
    for known, table in (
        (type_check.USER_FIELDS, vocabulary.USER_FIELDS),
        (type_check.CONTACT_FIELDS, vocabulary.CONTACT_FIELDS),
        (type_check.NOW_FIELDS, vocabulary.NOW_FIELDS),
    ):
        assert {name: found.base for name, found in known.items()} == dict(table)
    assert policy_ast.SCOPES == Scope.texts()


def test_the_engine_reads_every_built_in_user_field_and_no_other():
    assert set(evaluate.USER_FIELDS) == set(vocabulary.USER_FIELDS)
    # SQL reads each from a column of the users view, but `online`, which it works out from the status.
    assert set(sql.BUILT_IN_USER_COLUMNS) == set(vocabulary.USER_FIELDS) - {vocabulary.UserField.ONLINE}
    assert set(clock.now_fields(NOW, None)) == set(vocabulary.NOW_FIELDS)
    assert clock.WEEKDAYS == Weekday.texts()


def test_outcomes_event_types_and_route_kinds_come_from_the_vocabulary():
    assert decisions.OUTCOMES == Outcome.texts()
    assert scheduler.EVENT_TYPES == vocabulary.EventType.texts()
    assert set(compiler.ACTION_KINDS.values()) == set(RouteKind.texts())
    # An assignment's reason is the logic that chose, so every logic is a reason too.
    assert set(Logic.texts()) <= set(Reason.texts())
    # A release's reason is the trigger whose timer fired (SPEC 4.1).
    assert set(vocabulary.ReassignTrigger.texts()) <= set(Reason.texts())


def test_rota_testing_simulate_and_the_service_draw_on_the_same_names():
    assert strategies.STATUSES == Status.texts() == SERVICE_STATUSES
    assert strategies.BUILT_IN_USER_FIELDS == frozenset(vocabulary.USER_FIELDS)
    assert strategies.BUILT_IN_CONTACT_FIELDS == frozenset(vocabulary.CONTACT_FIELDS) == set(SIMULATED_CONTACT_FIELDS)


def test_a_status_added_to_the_vocabulary_reaches_the_type_checker(monkeypatch):
    """`status == "busy"` is an unknown value today, and fine once `busy` is a status."""
    text = 'route r {\n  assign to space\n  only status == "busy"\n}\n'
    with pytest.raises(PolicyError, match="never `busy`"):
        load_policy(text)
    closed = dict(vocabulary.CLOSED_VALUES)
    closed[(Scope.USER.value, vocabulary.UserField.STATUS.value)] = (*Status.texts(), "busy")
    monkeypatch.setattr(vocabulary, "CLOSED_VALUES", closed)
    assert [route.name for route in load_policy(text).routes] == ["r"]


def test_what_the_engine_decides_is_plain_text_that_pickles_without_rota():
    """No `using`: the default logic becomes the reason, and must be text, not Logic.ROUND_ROBIN."""
    policy = compile_policy(load_policy("route r {\n  assign to space\n}\n"))
    engine = Engine(policy, Roster.build([User("u1")]))
    made = engine.handle(Event(NOW, vocabulary.EventType.ROUTE.value, contact="c1"))
    made += engine.handle(Event(NOW, vocabulary.EventType.USER.value, user="u2", attrs={"name": "Bo"}))
    assert [(d.outcome, d.reason) for d in made] == [(Outcome.ASSIGNED, Logic.ROUND_ROBIN)]
    for decision in made:
        for value in (decision.outcome, decision.reason, decision.route, decision.user):
            assert type(value) is str
        assert b"rota" not in pickle.dumps((decision.outcome, decision.reason))
    assert type(engine.roster.users["u2"].status) is str and type(User("u3").status) is str
    assert type(policy_ast.DEFAULT_LOGIC) is str and type(compiler.LEAST_OPEN) is str


# Strings equal to a built-in name that are not that name: syntax, or words for people.
NOT_THE_NAME = {
    ("dsl/syntax_errors.py", "round_robin"),  # the grammar's keywords, shown in syntax errors
    ("dsl/syntax_errors.py", "least_open"),
    ("rota/service/contacts_api.py", "queued"),  # the key of a contact's queue entry in GET /v1/contacts/{id}
    ("rota/simulate/report.py", "assigned"),  # headings of the report
    ("rota/simulate/report.py", "failed"),
    ("rota/simulate/report.py", "released"),
    ("rota/simulate/releases.py", "released"),  # a column: how many contacts were released
    ("rota/service/contacts_api.py", "released"),  # the key of a contact's released users
    ("rota/testing/model.py", "least_open"),  # the name of a property (verify-failures/least_open/)
    ("rota/testing/model.py", "queued"),  # a contact's state in a finding
    ("rota/verify.py", "failed"),  # the summary's count of failed checks
    ("rota/policytest/output.py", "failed"),  # `rota test --format json`'s count of failed cases
}


def test_no_built_in_name_is_written_out_as_a_string_outside_the_vocabulary():
    names = {*Status.texts(), *Outcome.texts(), *Weekday.texts(), *Logic.texts(), *Reason.texts()}
    names -= {Reason.USER.value, Reason.TIMEOUT.value}  # also plain words: `user.F`, the `timeout` option
    written = set()
    for folder in ("rota", "dsl", "engine"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            where = str(path.relative_to(ROOT))
            if where == "rota/vocabulary.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and node.value in names:
                    written.add((where, node.value))
    assert written - NOT_THE_NAME == set()
