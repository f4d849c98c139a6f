"""`rota test` (docs/testing.md): the test format, its runner, its coverage and its errors."""

import json
import os
import re
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from rota import compile_policy
from rota.cli import main
from rota.dsl import load_policy
from rota.engine import parse_instant
from rota.policytest import run_suite
from rota.policytest.coverage import FilterRecordingEngine
from rota.testing import runs
from rota.testing.run import run_engine

ROOT = Path(__file__).parent.parent
GOLDEN = Path(__file__).parent / "golden" / "policytest"
UPDATE = os.environ.get("ROTA_UPDATE_GOLDEN") == "1"

DESK = """\
route vip when "vip" in contact.tags {
  assign to team "VIP Desk"
  using least_open
  only online
  timeout 30m -> general
}

route general {
  assign to space
  only online
}
"""
USERS = """\
at: 2026-11-25 10:00
users:
  - {id: u01, status: online, open: 2, teams: [VIP Desk]}
  - {id: u02, status: online, open: 1, teams: [VIP Desk]}
  - {id: u10, status: away}
"""


def desk_test(folder: Path, cases: str, policy: str = DESK, fixtures: str = USERS) -> Path:
    """desk.rota and desk.test.yaml in `folder`: the fixtures, then `cases:` with the text given."""
    (folder / "desk.rota").write_text(policy)
    path = folder / "desk.test.yaml"
    path.write_text(fixtures + "cases:\n" + textwrap.indent(textwrap.dedent(cases), "  "))
    return path


def rota(arguments: list[str], capsys) -> tuple[int, str, str]:
    status = main(arguments)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


# ------------------------------------------------------------------ the policies of policies/


def test_every_policy_in_policies_has_tests_that_pass_and_exercise_all_of_it():
    suite = run_suite([str(ROOT / "policies")])
    assert suite.untested == [] and not suite.bad_input
    assert [r.case.name for r in suite.results if not r.passed] == []
    assert {Path(c.policy).name: c.covered for c in suite.coverage} == {
        Path(c.policy).name: len(c.items) for c in suite.coverage
    }
    assert len(suite.coverage) == len(list((ROOT / "policies").rglob("*.rota")))


# ------------------------------------------------------------------------- running cases


def test_a_case_meets_its_expectations_after_an_event_and_at_the_end(tmp_path):
    path = desk_test(
        tmp_path,
        """\
        - name: a VIP waits, u10 comes online, and the timeout sends it to the space
          users: [{id: u01, status: away}, {id: u02, status: away}]
          events:
            - {type: route, contact: c1, attrs: {tags: [vip]}, expect: {outcome: queued, deadline: +30m}}
            - {at: +5m, type: status, user: u10, status: online, expect: {contact: c1, outcome: queued}}
          until: +30m
          expect: {timed_out: true, route: general, outcome: assigned, user: u10, reason: round_robin}
        """,
    )
    # `deadline: +30m` is not a time an expectation takes: times there are absolute
    assert [d.code.id for d in run_suite([str(path)]).files[0].diagnostics] == ["T703"]
    path.write_text(path.read_text().replace("deadline: +30m", "deadline: 2026-11-25 10:30"))
    (result,) = run_suite([str(path)]).results
    assert result.passed, result.failures
    assert [row.outcome for row in result.decisions] == ["queued", "timed_out", "assigned"]


def test_a_case_whose_expectation_the_engine_does_not_meet_fails_at_the_expectations_place(tmp_path):
    path = desk_test(
        tmp_path,
        """\
        - name: the VIP goes to u01
          contacts:
            - {id: c1, attrs: {tags: [vip]}, expect: {user: u01, outcome: assigned}}
        """,
    )
    (result,) = run_suite([str(path)]).results
    assert not result.passed
    (failure,) = result.failures
    assert (failure.line, failure.column, failure.message) == (9, 55, "expected user u01, got u02")
    assert [row.user for row in failure.rows] == ["u02"]


def test_one_of_several_users_timed_out_released_and_nobody(tmp_path):
    path = desk_test(
        tmp_path,
        """\
        - name: one of
          contacts:
            - {id: c1, attrs: {tags: [vip]}, expect: {user: [u01, u02], timed_out: false, released: false}}
            - {id: c2, attrs: {tags: [vip]}, expect: {user: [u10, u02]}}
            - {id: c3, expect: {user: null}}
        """,
    )
    (result,) = run_suite([str(path)]).results
    assert [f.message for f in result.failures] == [
        "expected user one of u10, u02, got u01",
        "expected user null, got u01",
    ]


def test_times_without_a_zone_are_in_the_policys_timezone(tmp_path):
    path = desk_test(
        tmp_path,
        """\
        - name: 11:00 in Berlin is 10:00 UTC
          contacts: [{id: c1, attrs: {tags: [vip]}, expect: {outcome: assigned}}]
        """,
        policy='timezone "Europe/Berlin"\n' + DESK,
        fixtures=USERS.replace("at: 2026-11-25 10:00", "at: 2026-11-25 11:00"),
    )
    (result,) = run_suite([str(path)]).results
    assert result.decisions[0].at == parse_instant("2026-11-25T10:00:00Z")


def test_an_expectation_at_the_end_of_a_case_of_several_contacts_must_name_one(tmp_path):
    path = desk_test(
        tmp_path,
        """\
        - name: two contacts
          contacts: [{id: c1}, {id: c2}]
          expect: {outcome: assigned}
        """,
    )
    (diagnostic,) = run_suite([str(path)]).files[0].diagnostics
    assert (diagnostic.code.id, diagnostic.line, diagnostic.column) == ("T704", 9, 13)


# ----------------------------------------------------------------------------- bad files


@pytest.mark.parametrize(
    "cases, found",
    [
        ("- name: x\n  contacts: [{id: c1, attrs: {tags: [vip]}, expect: {outcom: queued}}]\n", [("T702", "outcom")]),
        ("- name: x\n  contacts: [{id: c1, expect: {outcome: lost}}]\n", [("T703", "lost")]),
        ("- name: x\n  contacts: [{id: c1, expect: {reason: tired}}]\n", [("T703", "tired")]),
        ("- name: x\n  events: [{type: route, contact: c1, at: soon, expect: {route: vip}}]\n", [("T703", "soon")]),
        ("- name: x\n  events: [{type: route}]\n", [("T703", "{type: route}")]),
        ("- name: x\n  contacts: {id: c1}\n", [("T703", "{id: c1}")]),
        ("- name: x\n", [("T704", "name: x")]),
        (
            "- name: x\n  contacts: [{id: c1, expect: {route: vip}}]\n- name: x\n  contacts: [{id: c2, expect: {route: vip}}]\n",
            [("T705", "x\n    contacts: [{id: c2")],
        ),
        ("- name: x\n  contacts: [{id: c1, expect: {route: gneral}}]\n", [("T707", "gneral")]),
        ("- name: x\n  contacts: [{id: c1, expect: {outcome: released}}]\n", [("T703", "released")]),
        ("- name: x\n  contacts: [{id: c1, expect: {user: [u01, u99]}}]\n", [("T708", "[u01, u99]")]),
        (
            "- name: x\n  events: [{type: route, contact: c1, at: +5m}, {type: close, contact: c1, at: +1m}]\n"
            "  until: +2m\n  expect: {route: vip}\n",
            [("T703", "{type: close"), ("T703", "+2m")],
        ),
        ("- name: x\n  contacts: [{id: c1}]\n  expect: {contact: c9, route: vip}\n", [("T708", "{contact: c9")]),
        (
            "- name: x\n  users: [{id: u01, status: busy, open: many}]\n  contacts: [{id: c1, expect: {route: vip}}]\n",
            [("T703", "busy"), ("T703", "many")],
        ),
    ],
)
def test_each_problem_of_a_test_file_is_reported_at_its_line_and_column(tmp_path, cases, found):
    path = desk_test(tmp_path, cases)
    run = run_suite([str(path)]).files[0]
    lines = path.read_text().split("\n")
    at_place = ["\n".join(lines[d.line - 1 :])[d.column - 1 :] for d in run.diagnostics]
    assert len(at_place) == len(found)
    for (code, text), diagnostic, place in zip(found, run.diagnostics, at_place):
        assert diagnostic.code.id == code and place.startswith(text), (diagnostic, place[:40])
    assert run.results == []


def test_yaml_that_does_not_parse_is_reported_where_it_stops(tmp_path, capsys):
    path = desk_test(tmp_path, "- name: a: b\n  contacts: [{id: c1}]\n")
    status, out, _ = rota(["test", str(path)], capsys)
    assert status == 2
    assert out.startswith(f"{path}:7:12: error: this is not YAML the test format can read [T701]")


def test_the_golden_rendering_of_a_bad_test_file(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    status, out, _ = rota(["test", "tests/golden/policytest/bad.test.yaml"], capsys)
    assert status == 2
    golden(GOLDEN / "bad.expected", out)


def test_scalars_are_read_as_yaml_1_2_core_no_stays_text_and_times_stay_times(tmp_path):
    path = desk_test(
        tmp_path,
        """\
        - name: a Norwegian contact at 10:30
          contacts: [{id: c1, attrs: {language: no, slot: 10:30, tags: [on]}, expect: {outcome: assigned}}]
        """,
    )
    (result,) = run_suite([str(path)]).results
    assert result.passed
    event_attrs = [step.event.attrs for step in result.case.steps]
    assert event_attrs == [{"language": "no", "slot": "10:30", "tags": ["on"]}]


# ------------------------------------------------------------------------------ coverage


def test_coverage_of_a_small_policy_counts_routes_branches_failures_and_filters(tmp_path):
    path = desk_test(
        tmp_path,
        """\
        - name: a VIP
          contacts: [{id: c1, attrs: {tags: [vip]}, expect: {route: vip}}]
        """,
    )
    (coverage,) = run_suite([str(path)]).coverage
    assert (coverage.covered, len(coverage.items)) == (2, 12)
    assert [(item.line, item.what) for item in coverage.missed] == [
        (2, "route vip failing with team_empty"),
        (2, "route vip queueing (nobody eligible)"),
        (4, "route vip's `only online` false for some user"),
        (5, "route vip's timeout 30m -> general"),
        (8, "route general taken"),
        (9, "route general failing with space_empty"),
        (9, "route general queueing (nobody eligible)"),
        (9, "route general's timeout 7d with no branch (fails with timeout)"),
        (10, "route general's `only online` true for some user"),
        (10, "route general's `only online` false for some user"),
    ]


def test_min_coverage_gates_and_an_untested_policy_counts_as_nothing_covered(tmp_path, capsys):
    path = desk_test(tmp_path, "- name: a VIP\n  contacts: [{id: c1, attrs: {tags: [vip]}, expect: {route: vip}}]\n")
    assert rota(["test", str(path), "--min-coverage", "16"], capsys)[0] == 0
    status, out, err = rota(["test", str(path), "--min-coverage", "17"], capsys)
    assert status == 1 and "coverage 16.7% is under --min-coverage 17%" in err
    (tmp_path / "other.rota").write_text("route all {\n  unassign\n}\n")
    status, out, err = rota(["test", str(tmp_path), "--coverage"], capsys)
    assert status == 0 and f"{tmp_path / 'other.rota'}: no tests" in err
    assert "coverage: 2 of 13 items exercised (15.4%)" in out


# -------------------------------------------------------------------------- command line


def test_exit_status_and_json(tmp_path, capsys):
    path = desk_test(
        tmp_path,
        "- name: passes\n  contacts: [{id: c1, expect: {outcome: assigned}}]\n",
    )
    status, out, err = rota(["test", str(path), "--format", "json", "--coverage"], capsys)
    document = json.loads(out)
    assert status == 0 and document["passed"] and document["cases"][0]["name"] == "passes"
    assert document["coverage"]["percent"] == round(100 * 3 / 12, 1)  # route general, its `only online` both ways
    path.write_text(path.read_text().replace("outcome: assigned", "outcome: queued"))
    status, out, _ = rota(["test", str(path), "--format", "json"], capsys)
    (failure,) = json.loads(out)["cases"][0]["failures"]
    assert status == 1 and (failure["expected"], failure["got"]) == ("outcome queued", "assigned")
    assert failure["decisions"][0]["outcome"] == "assigned"
    assert rota(["test", str(tmp_path / "nothing")], capsys)[0] == 2
    (tmp_path / "empty").mkdir()
    status, _, err = rota(["test", str(tmp_path / "empty")], capsys)
    assert status == 2 and "no test files (*.test.yaml) and no policies (*.rota) in it" in err
    (tmp_path / "desk.rota").write_text(DESK.replace("timeout 30m", "timeout 30"))
    status, out, _ = rota(["test", str(path)], capsys)
    assert status == 1 and f"{tmp_path / 'desk.rota'}:5:11: error:" in out  # the policy's own diagnostics


def test_the_golden_output_of_a_failing_run(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    status, out, err = rota(["test", "tests/golden/policytest/failing.test.yaml", "--coverage"], capsys)
    assert status == 1 and "4 cases: 2 passed, 2 failed (1 test file)" in err
    golden(GOLDEN / "failing.expected", out)


def golden(path: Path, text: str) -> None:
    if UPDATE:
        path.write_text(text)
    assert text == path.read_text()


def test_the_example_of_docs_testing_md_prints_what_the_page_shows(tmp_path, monkeypatch, capsys):
    page = (ROOT / "docs" / "testing.md").read_text()
    policy, tests = (re.search(rf"^```{kind}\n(.*?)^```$", page, re.M | re.S).group(1) for kind in ("rota", "yaml"))
    passing, failing = re.findall(r"^```text\n(.*?)^```$", page, re.M | re.S)
    (tmp_path / "desk.rota").write_text(policy)
    (tmp_path / "desk.test.yaml").write_text(tests)
    monkeypatch.chdir(tmp_path)
    assert rota(["test", "desk.test.yaml", "--coverage"], capsys)[:2] == (0, passing)
    (tmp_path / "desk.test.yaml").write_text(
        tests.replace("user: u01, reason: least_open", "user: u02, reason: least_open")
    )
    status, out, _ = rota(["test", "desk.test.yaml"], capsys)
    assert status == 1 and out.startswith(failing)


# --------------------------------------------------------------------------- the fast path

POLICIES = [ROOT / "policies" / f"{name}.rota" for name in ("vip_desk", "load_balance", "sticky", "first_response")]


@pytest.mark.parametrize("policy_path", POLICIES, ids=lambda path: path.stem)
def test_recording_filters_changes_no_decision(policy_path):
    """The engine `rota test` runs (recording how filters evaluate) decides as the live engine does."""
    policy = compile_policy(load_policy(policy_path.read_text(), str(policy_path)))

    recording = runs(policy, engine_factory=lambda p, roster: FilterRecordingEngine(p, roster, set()), replies=True)

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(run=recording)
    def recorded_and_plain_agree(run):
        plain = run_engine(policy, run.snapshot, run.events, run.until)
        assert run.decisions == plain.decisions

    recorded_and_plain_agree()


REASSIGN = """\
route returning when contact.last_agent != null {
  assign to user contact.last_agent
  reassign when unanswered 10m -> desk
}

route desk {
  assign to team "Desk"
  using round_robin
  only online
  reassign when unanswered 5m
  reassign when away 10m -> unassign
}
"""


def test_released_expectations_and_reply_events(tmp_path):
    path = desk_test(
        tmp_path,
        """\
        - name: unanswered for 5 minutes, the contact goes to the next agent
          events:
            - {type: route, contact: c1, expect: {user: u01}}
            - {at: +6m, type: status, user: u03, status: away, expect: {contact: c1, released: u01, user: u02}}
        - name: a reply by the assignee keeps the contact
          events:
            - {type: route, contact: c1, expect: {user: u01}}
            - {at: +1m, type: reply, contact: c1, user: u01}
          until: +30m
          expect: {released: false, user: u01}
        - name: away for 10 minutes and the contact is unassigned
          events:
            - {type: route, contact: c1, expect: {user: u01}}
            - {at: +1m, type: reply, contact: c1, user: u01}
            - {at: +2m, type: status, user: u01, status: away}
          until: +12m
          expect: {released: u01, outcome: unassigned}
        """,
        policy=REASSIGN,
        fixtures="at: 2026-11-25 10:00\nusers:\n"
        + "".join(
            f"  - {{id: {user}, status: {status}, teams: [Desk]}}\n"
            for user, status in [("u01", "online"), ("u02", "online"), ("u03", "away")]
        ),
    )
    suite = run_suite([str(path)])
    assert [result.failures for result in suite.results] == [(), (), ()]
    (coverage,) = suite.coverage
    assert [item.what for item in coverage.missed] == [
        "route returning taken",
        "route returning failing with user_not_found",
        "route returning failing with user_deleted",
        "route returning's reassign when unanswered -> desk",
        "route desk failing with team_empty",
        "route desk queueing (nobody eligible)",
        "route desk's timeout 7d with no branch (fails with timeout)",
    ]
