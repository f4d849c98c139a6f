"""SPEC 2: the language. Syntax, static rules, types and canonical form.

Diagnostics are pinned by golden files: tests/golden/diagnostics/NAME.rota
and the rendered output in NAME.expected beside it. Set ROTA_UPDATE_GOLDEN=1
to rewrite them (and read the diff before committing).
"""

import os
from pathlib import Path

import pytest

from rota.dsl import analyze, format_policy, parse
from rota.dsl.ast import AssignToUser, BoolOp, Compare, Field, Literal, Not, Reassign

GOLDEN = Path(__file__).parent / "golden" / "diagnostics"


def errors_of(text: str) -> list[str]:
    return [d.message for d in analyze(text, "p.rota")[1] if d.is_error]


@pytest.mark.parametrize("case", sorted(GOLDEN.glob("*.rota")), ids=lambda path: path.stem)
def test_diagnostics_match_golden_files(case):
    text = case.read_text()
    rendered = "\n".join(d.render(text) for d in analyze(text, case.name)[1]) + "\n"
    expected = case.with_suffix(".expected")
    if os.environ.get("ROTA_UPDATE_GOLDEN"):
        expected.write_text(rendered)
    assert rendered == expected.read_text()


def test_the_spec_example_parses_with_its_defaults():
    text = (Path(__file__).parent.parent / "policies" / "vip_desk.rota").read_text()
    policy, diagnostics = analyze(text)
    assert diagnostics == []
    vip, general = policy.routes
    assert (vip.logic, vip.priority, vip.timeout_seconds, vip.branch) == ("least_open", 10, 1800, "general")
    assert (general.logic, general.priority, general.timeout_seconds, general.branch) == (
        "round_robin",
        0,
        604800,
        None,
    )


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("15m", 900), ("1d12h", 129600), ("7d", 604800)])
def test_durations(text, seconds):
    policy = parse(f"route r {{ assign to space timeout {text} }}").policy
    assert policy.routes[0].timeout_seconds == seconds


def test_bare_fields_take_their_context_scope():
    policy = parse(
        "route r when tier > 1 { assign to space only online only tier == contact.tier }\n"
        "route s { assign to user last_agent }"
    ).policy
    assert policy.routes[0].when.left == Field("contact", "tier")
    assert policy.routes[0].filters[0] == Field("user", "online")
    assert policy.routes[0].filters[1] == Compare("==", Field("user", "tier"), Field("contact", "tier"))
    assert policy.routes[1].action == AssignToUser(Field("contact", "last_agent"))


def test_precedence_or_and_not_comparison():
    when = parse("route r when not a == 1 or b in [1] and c != null { unassign }").policy.routes[0].when
    assert when == BoolOp(
        "or",
        Not(Compare("==", Field("contact", "a"), Literal(1))),
        BoolOp(
            "and",
            Compare("in", Field("contact", "b"), when.right.left.right),
            Compare("!=", Field("contact", "c"), Literal(None)),
        ),
    )


def test_strings_escape_and_keywords_are_reserved():
    policy = parse(r'route r when contact.note == "say \"hi\"\n\t\\" { unassign }').policy
    assert policy.routes[0].when.right == Literal('say "hi"\n\t\\')
    assert errors_of("route using { unassign }")
    assert not errors_of("route r when contact.priority == 1 { unassign }")  # a keyword after the dot is a name


@pytest.mark.parametrize(
    "text, message",
    [
        ("route r { assign to user contact.x using round_robin }", "`using` has no meaning with `assign to user`"),
        ("route r { unassign only online }", "`only` has no meaning with `unassign`"),
        ("route r { unassign timeout 1h }", "`timeout` has no meaning with `unassign`"),
        ("route r { assign to space priority 1 priority 2 }", "`priority` is given twice"),
        ("route r { assign to space timeout 1h timeout 2h }", "`timeout` is given twice"),
        ("route r { assign to space timeout 7d1s }", "longer than 7 days"),
        ("route r { assign to space timeout 0m }", "timeout of zero"),
        ("route r { unassign } route r { unassign }", "route `r` is defined twice"),
        ("route r { assign to space timeout 1h -> s }", "timeout branch `s` names no route"),
        ("route r { assign to space timeout 1h -> r }", "timeout branches form a cycle: r -> r"),
        ("route r when user.open > 1 { unassign }", "`user.open` is not known here"),
        ("route r { assign to user user.id }", "`user.id` is not known here"),
        ('route r when "x" { unassign }', "`when` needs a condition"),
        ("route r { assign to space only online < true }", "true/false values have no order"),
        ("route r { assign to space only teams == teams }", "lists cannot be compared"),
        ("route r { assign to space only 5 in teams }", "a number is never in a list of strings"),
        ('route r when contact.x in [1, "a"] { unassign }', "a list mixes values of different kinds"),
        ("route r { assign to user 1.5 }", "`assign to user` needs a user id"),
        ('timezone "Mars/Base" route r { unassign }', "unknown timezone"),
    ],
)
def test_static_rules(text, message):
    assert any(message in found for found in errors_of(text)), errors_of(text)


def test_priority_is_allowed_anywhere_and_may_be_negative():
    assert errors_of("route r { assign to user contact.x priority -3 }") == []


def test_every_problem_is_reported_in_one_run_sorted_by_place():
    text = (GOLDEN / "static_rules.rota").read_text()
    diagnostics = analyze(text, "p.rota")[1]
    assert len(diagnostics) >= 6
    assert [(d.line, d.column) for d in diagnostics] == sorted((d.line, d.column) for d in diagnostics)


def test_every_syntax_error_of_a_file_is_reported_once_at_its_place():
    text = (GOLDEN / "three_mistakes.rota").read_text()
    diagnostics = analyze(text, "p.rota")[1]
    assert [(d.line, d.column, d.code.id) for d in diagnostics] == [(4, 3, "E101"), (8, 41, "E101"), (13, 18, "E101")]
    assert [(d.end_line, d.end_column) for d in diagnostics] == [(4, 7), (8, 42), (13, 23)]  # each token's end


def test_the_parser_resumes_at_the_next_option_or_route_without_follow_on_errors():
    text = (
        "route a when contact.x = 1 { assign to space only only online priority 1.5 }\n"
        "route b { assign to team Sales timeout 30 -> unassign }\n"
        "route c { unassign } }\n"
        'route d { assign to user "x" @ }\n'
    )
    assert errors_of(text) == [
        "unexpected `=`",
        "unexpected `only`; expected an expression",
        "unexpected name `Sales`; expected a string",
        "unexpected number `30`; expected a duration like `30m`",
        "unexpected `}`; expected `route` or the end of the file",
        "unexpected character `@`",
    ]


@pytest.mark.parametrize(
    "text, place, hint",
    [
        ('route vip {\n  assign to team "VIP"\n\nroute general {\n  unassign\n}\n', (1, 11), "before the next route"),
        ('route vip {\n  assign to team "VIP"\n  only online\n', (1, 11), "at the end of the route"),
    ],
)
def test_an_unclosed_brace_is_reported_at_the_route_that_opens_it(text, place, hint):
    (diagnostic,) = analyze(text, "p.rota")[1]
    assert diagnostic.message == "route `vip` opens `{` here and it is never closed"
    assert ((diagnostic.line, diagnostic.column), diagnostic.code.id) == (place, "E102")
    assert diagnostic.hint == f"close it with `}}` {hint}"


def test_a_route_left_unfinished_says_its_brace_is_open():
    (diagnostic,) = analyze("route vip {\n  assign to space\n  only online and\nroute b { unassign }\n", "p.rota")[1]
    assert (diagnostic.line, diagnostic.message) == (4, "unexpected `route`; expected an expression")
    assert diagnostic.hint == "route `vip` is still open here: its `{` on line 1 is never closed"


def test_unclosed_strings_and_brackets_are_reported_where_they_open():
    diagnostics = analyze('route a when ("x" in tags {\n  assign to space\n  only y in ["a"\n  priority 1\n}\n', "p")[1]
    assert [(d.line, d.column, d.message, d.code.id) for d in diagnostics] == [
        (1, 14, "this `(` is never closed", "E102"),
        (3, 13, "this `[` is never closed", "E102"),
    ]
    (string,) = analyze('route a when "x in tags {\n  unassign\n}\n', "p")[1]
    assert (string.column, string.code.id, string.end_column) == (14, "E102", 26)


def test_a_file_of_many_mistakes_stops_after_a_hundred():
    diagnostics = analyze("route a { assign to space " + "only " * 500 + "}", "p.rota")[1]
    assert len(diagnostics) == 101
    assert diagnostics[-1].message == "more than 100 syntax errors; stopped here" and diagnostics[-1].code.id == "E103"


def test_limits_keep_hostile_input_harmless():
    assert "nested more than" in errors_of("route r when " + "(" * 500 + "x" + ")" * 500 + " { unassign }")[0]
    assert "nested more than" in errors_of("route r when " + "not " * 5000 + "x { unassign }")[0]
    assert "list longer than" in errors_of("route r when x in [" + "1," * 5000 + "1] { unassign }")[0]
    assert "larger than" in errors_of("#" * (2 * 1024 * 1024))[0]
    assert errors_of("route a { assign to space priority 1.5 }\nroute b { assign to space priority 2.5 }") == [
        "priority must be a whole number, not `1.5`",
        "priority must be a whole number, not `2.5`",
    ]


def test_format_keeps_comments_and_canonical_layout():
    text = (
        'timezone "UTC" # zone\n# first\nroute r when "vip" in tags { assign to space\n'
        "  only online and (open < 3 or level > 2) # cap\n  timeout 1d12h -> unassign using least_open }\n"
    )
    assert format_policy(parse(text).policy) == (
        'timezone "UTC"  # zone\n\n'
        "# first\n"
        'route r when "vip" in contact.tags {\n'
        "  assign to space\n"
        "  using least_open\n"
        "  only online and (open < 3 or level > 2)  # cap\n"
        "  timeout 1d12h -> unassign\n"
        "}\n"
    )


def test_lines_are_counted_at_newlines_only():
    """A form feed inside a string is not a line break: `#` after it is not a comment."""
    text = 'route a {\n  assign to team "\x0c#"\n}\n'
    policy = parse(text).policy
    assert policy.comments == () and policy.routes[0].action.team == "\x0c#"
    assert format_policy(policy) == text


# ------------------------------------------------------------------ reassign (SPEC v2, 2.2)


def language_errors_of(text: str) -> list[str]:
    """The errors of the policy, as messages."""
    return [d.message for d in analyze(text, "p.rota")[1] if d.is_error]


def test_reassign_parses_with_its_trigger_duration_and_branch():
    policy = parse(
        "route r { assign to space reassign when away 1d12h -> unassign reassign when unanswered 90s } "
        "route s { assign to user contact.last_agent reassign when away 5m -> r }"
    ).policy
    assert policy.routes[0].reassigns == (Reassign("unanswered", 90), Reassign("away", 129600, "unassign"))
    assert policy.routes[1].reassigns == (Reassign("away", 300, "r"),)


@pytest.mark.parametrize(
    "text",
    [
        'route r { assign to team "T" reassign when unanswered 5m }',  # with team,
        "route r { assign to space reassign when away 5m }",  # space
        "route r { assign to user contact.x reassign when away 5m -> unassign }",  # and user actions
        "route r { assign to space reassign when unanswered 5m reassign when away 1h }",  # once per trigger
        "route r { assign to space reassign when away 1s }",  # a duration of 1s
        "route r { assign to space reassign when away 7d }",  # to 7d
        # Reassign branches are not part of the cycle rule.
        "route a { assign to space reassign when away 5m -> b } route b { assign to space reassign when away 5m -> a }",
        "route a { assign to space reassign when away 5m -> a }",
        "route a { assign to space timeout 1h -> b } route b { assign to space reassign when unanswered 5m -> a }",
    ],
)
def test_reassign_is_allowed_where_spec_2_2_allows_it(text):
    assert language_errors_of(text) == []


@pytest.mark.parametrize(
    "text, message",
    [
        ("route r { unassign reassign when away 5m }", "`reassign` has no meaning with `unassign`"),
        (
            "route r { assign to space reassign when away 5m reassign when away 9m }",
            "`reassign when away` is given twice in route `r`",
        ),
        ("route r { assign to space reassign when unanswered 7d1s }", "a `reassign` wait longer than 7 days"),
        ("route r { assign to space reassign when unanswered 0s }", "a `reassign` wait of zero"),
        (
            "route r { assign to user contact.x reassign when away 5m }",
            "`reassign when away` on `assign to user` needs a branch",
        ),
        ("route r { assign to space reassign when away 5m -> s }", "`reassign when away` branch `s` names no route"),
    ],
)
def test_reassign_static_rules(text, message):
    assert any(message in found for found in language_errors_of(text)), language_errors_of(text)


def test_reassign_and_its_triggers_are_reserved_words():
    for word in ("reassign", "unanswered", "away"):
        assert errors_of(f"route {word} {{ unassign }}")
        assert not errors_of(f"route r when contact.{word} == 1 {{ unassign }}")  # after the dot, a name


def test_reassign_is_formatted_last_in_its_route_unanswered_first():
    text = "route r { assign to space reassign when away 90m -> unassign reassign when unanswered 300s timeout 1h }"
    assert format_policy(parse(text).policy) == (
        "route r {\n"
        "  assign to space\n"
        "  timeout 1h\n"
        "  reassign when unanswered 5m\n"
        "  reassign when away 1h30m -> unassign\n"
        "}\n"
    )


def test_now_date_is_a_string_field_of_now():
    assert language_errors_of('route holiday when now.date in ["2026-12-25", "2026-12-26"] { unassign }') == []
    assert any("a number" in found for found in errors_of("route r when now.date == 20261225 { unassign }"))
