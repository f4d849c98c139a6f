"""SPEC 2 as properties: `fmt` is idempotent and keeps meaning on generated policies,
and no text, random or mutated, makes the parser raise: only diagnostics."""

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rota.dsl import analyze, format_policy, parse
from rota.dsl.ast import (
    TRIGGERS,
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
    Reassign,
    Route,
    Timeout,
    Unassign,
    Using,
    option_order,
)
from rota.dsl.syntax_errors import KEYWORDS

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,8}", fullmatch=True).filter(lambda name: name not in KEYWORDS.values())
texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"), max_size=12)
numbers = st.one_of(st.integers(-(10**6), 10**6), st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False))
literals = st.builds(Literal, st.one_of(texts, numbers, st.booleans(), st.none()))
lists = st.builds(
    ListLiteral, st.lists(st.builds(Literal, st.one_of(texts, st.integers(0, 99))), max_size=3).map(tuple)
)


def fields(scope_names):
    return st.builds(Field, st.sampled_from(scope_names), st.one_of(names, st.sampled_from(["priority", "team"])))


def expressions(scope_names):
    primaries = st.one_of(literals, lists, fields(scope_names))
    comparisons = st.builds(
        Compare, st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in", "not in"]), primaries, primaries
    )
    return st.recursive(
        st.one_of(comparisons, fields(scope_names)),
        lambda inner: st.one_of(st.builds(Not, inner), st.builds(BoolOp, st.sampled_from(["and", "or"]), inner, inner)),
        max_leaves=5,
    )


@st.composite
def policies(draw):
    count = draw(st.integers(0, 3))
    route_names = draw(st.lists(names, min_size=count, max_size=count, unique=True))
    routes = []
    for name in route_names:
        action = draw(
            st.one_of(
                st.builds(AssignToTeam, texts),
                st.just(AssignToSpace()),
                st.just(Unassign()),
                st.builds(AssignToUser, expressions(["contact", "now"])),
            )
        )
        options = []
        if draw(st.booleans()):
            options.append(Using(draw(st.sampled_from(["round_robin", "least_open"]))))
        options += [
            Only(condition) for condition in draw(st.lists(expressions(["user", "contact", "now"]), max_size=2))
        ]
        if draw(st.booleans()):
            options.append(Priority(draw(st.integers(-50, 50))))
        if draw(st.booleans()):
            options.append(
                Timeout(
                    draw(st.integers(1, 7 * 86400)),
                    draw(st.one_of(st.none(), st.just("unassign"), st.sampled_from(route_names))),
                )
            )
        for trigger in draw(st.lists(st.sampled_from(TRIGGERS), unique=True)):  # kept unanswered first
            branch = draw(st.one_of(st.none(), st.just("unassign"), st.sampled_from(route_names)))
            options.append(Reassign(trigger, draw(st.integers(1, 7 * 86400)), branch))
        options.sort(key=option_order)
        when = draw(st.one_of(st.none(), expressions(["contact", "now", "user"])))
        routes.append(Route(name, when, action, tuple(options)))
    timezone = draw(st.one_of(st.none(), st.sampled_from(["UTC", "Europe/Berlin", "Asia/Kuala_Lumpur"])))
    return Policy(tuple(routes), timezone)


@SETTINGS
@given(policies())
def test_format_keeps_meaning_and_is_idempotent(policy):
    text = format_policy(policy)
    parsed = parse(text)
    assert parsed.diagnostics == [], text
    assert parsed.policy == policy
    assert format_policy(parsed.policy) == text


EXAMPLE = (Path(__file__).parent.parent / "policies" / "demo" / "desk.rota").read_text()


@SETTINGS
@given(st.text(max_size=300))
def test_random_text_only_ever_gives_diagnostics(text):
    policy, diagnostics = analyze(text, "random.rota")
    assert policy is not None or diagnostics
    assert all(d.line >= 1 and d.column >= 1 for d in diagnostics)


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, len(EXAMPLE)), st.integers(0, 4), st.text(max_size=3)), max_size=4))
def test_mutated_policies_only_ever_give_diagnostics(edits):
    text = EXAMPLE
    for position, deleted, inserted in edits:
        text = text[:position] + inserted + text[position + deleted :]
    policy, diagnostics = analyze(text, "mutated.rota")
    assert policy is not None or any(d.is_error for d in diagnostics)


@settings(SETTINGS, max_examples=60)
@given(policies(), st.data())
def test_a_mistake_in_each_of_k_routes_gives_exactly_k_syntax_errors_on_their_lines(policy, data):
    """Recovery: the parser resumes at the next option, `}` or route, so no mistake hides or repeats another."""
    lines = format_policy(policy).split("\n")
    actions = [index + 1 for index, line in enumerate(lines) if line.startswith("route ")]  # 0-based
    broken = sorted(data.draw(st.lists(st.sampled_from(actions), unique=True) if actions else st.just([])))
    mistakes = data.draw(st.lists(st.sampled_from(MISTAKES), min_size=len(broken), max_size=len(broken)))
    for offset, (action, mistake) in enumerate(zip(broken, mistakes)):  # a bad line after each chosen action
        lines.insert(action + 1 + offset, "  " + mistake)
    diagnostics = parse("\n".join(lines), "broken.rota").diagnostics
    assert [d.line for d in diagnostics] == [action + 2 + offset for offset, action in enumerate(broken)]


MISTAKES = [
    "usng least_open",
    "only = 3",
    "priority x",
    "timeout 30",
    'assign to team "again"',
    "only (online",
    "reassign when 5m",
    "reassign unanswered 5m",
    "reassign when away 5",
]
