"""`rota verify`: the engine's properties and the policy checks, as the command line runs them."""

import json
from pathlib import Path

import pytest
from engine_variants import ReleaseIgnoringEngine, TurnSkippingEngine

from rota.cli import main
from rota.dsl import load_policy
from rota.engine import compile_policy
from rota.policy_checks import POLICY_CHECKS
from rota.testing import PROPERTIES, Snapshot, UserRecord, run_engine, vocabulary
from rota.verify import review_policy, verify

POLICIES = Path(__file__).parent.parent / "policies"

FLAWED_POLICY = """\
route general {
  assign to team "Desk"
  using round_robin
  only online
}

route spanish when contact.language == "es" {
  assign to team "Spanish"
}

route billing when "billing" in contact.tags {
  assign to space
  only "billing" in skills
}
"""


@pytest.fixture
def flawed(tmp_path):
    """A catch-all route first (so `spanish` is shadowed), and bob in no team the policy reaches."""
    policy = tmp_path / "flawed.rota"
    policy.write_text(FLAWED_POLICY)
    snapshot = Snapshot(
        users=(
            UserRecord("ann", "online", attributes={"skills": ["sales"]}),
            UserRecord("bob", "online", attributes={"skills": ["sales"]}),
        ),
        memberships=(("Desk", "ann"), ("Spanish", "bob")),
        attribute_types={"skills": Snapshot.from_directory(POLICIES / "demo" / "snapshot").attribute_types["skills"]},
    )
    snapshot.write(tmp_path / "snapshot")
    return policy, tmp_path / "snapshot"


def verify_cli(capsys, *arguments) -> tuple[int, str]:
    code = main(["verify", *map(str, arguments), "--examples", "15"])
    return code, capsys.readouterr().out


def test_verify_finds_a_shadowed_route_and_a_starved_user(flawed, capsys, tmp_path):
    policy, snapshot = flawed
    code, out = verify_cli(capsys, policy, "--snapshot", snapshot, "--failures", tmp_path / "failures")
    assert code == 1
    assert "✗ every route can be reached" in out
    assert f"{policy}:7:1: route `spanish` can never be chosen: route `general` above it has no `when`" in out
    assert "✗ no starved users" in out
    assert "user bob can never be chosen: in none of the teams a reachable route assigns to (Desk)" in out
    # Each finding ends with its code (docs/diagnostics.md).
    assert _code_of(out, f"{policy}:7:1: route `spanish` can never be chosen") == "V501"
    assert _code_of(out, "user bob can never be chosen") == "V504"


def _code_of(out: str, start: str) -> str:
    """The code at the end of the finding verify printed starting with `start`."""
    (line,) = [line.strip() for line in out.splitlines() if line.strip().startswith(start)]
    return line.rsplit(" [", 1)[1].rstrip("]")


def test_verify_finds_a_filter_nobody_passes(tmp_path, capsys):
    (tmp_path / "billing.rota").write_text(
        FLAWED_POLICY.split("route spanish")[0].replace(
            "route general {",
            'route billing when "billing" in contact.tags {\n  assign to space\n  only "billing" in skills\n}\n\nroute general {',
        )
    )
    snapshot = Snapshot(
        users=(UserRecord("ann", attributes={"skills": ["sales"]}),),
        memberships=(("Desk", "ann"),),
        attribute_types=Snapshot.from_directory(POLICIES / "demo" / "snapshot").attribute_types,
    )
    snapshot.write(tmp_path / "snapshot")
    code, out = verify_cli(
        capsys, tmp_path / "billing.rota", "--snapshot", tmp_path / "snapshot", "--failures", tmp_path / "failures"
    )
    assert code == 1
    assert 'route `billing`: the one user in its pool cannot pass `only "billing" in skills` [V503]' in out


def test_a_sound_policy_passes_every_line(capsys, tmp_path):
    code, out = verify_cli(
        capsys,
        POLICIES / "vip_desk.rota",
        "--snapshot",
        POLICIES / "demo" / "snapshot",
        "--max-wait",
        "8d",
        "--failures",
        tmp_path / "failures",
    )
    assert code == 0, out
    titles = [prop.title for prop in PROPERTIES]
    assert [line[2:] for line in out.splitlines() if line[:1] == "✓"][: len(titles)] == titles
    assert out.splitlines()[-1].startswith(f"all {len(PROPERTIES) + len(POLICY_CHECKS)} passed in ")


def test_max_wait_gates_escalation_chains(capsys, tmp_path):
    escalation = POLICIES / "escalation.rota"
    code, out = verify_cli(capsys, escalation, "--max-wait", "2h", "--failures", tmp_path / "failures")
    assert code == 1
    assert (
        f"{escalation}:3:1: tier1 15m -> tier2 1h -> supervisors 2h -> unassign adds up to 3h15m, over the 2h limit"
        " [V505]" in out
    )
    code, out = verify_cli(capsys, escalation, "--max-wait", "3h15m", "--failures", tmp_path / "failures")
    assert code == 0, out


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["missing.rota"], "missing.rota: no such policy"),
        ([str(POLICIES / "vip_desk.rota"), "--max-wait", "soon"], "--max-wait 'soon' is not a duration"),
        ([str(POLICIES / "vip_desk.rota"), "--snapshot", "nowhere"], "nowhere: no such snapshot directory"),
    ],
)
def test_input_errors_exit_2_with_one_line(arguments, message, capsys):
    assert main(["verify", *arguments]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_failure_is_shrunk_and_saved_as_files_rota_replay_runs(tmp_path, capsys):
    path = POLICIES / "vip_desk.rota"
    policy = compile_policy(load_policy(path.read_text()))
    report = verify(
        policy, str(path), path.read_text(), examples=25, failures_dir=tmp_path, engine_factory=TurnSkippingEngine
    )
    failed = {result.property.name: result for result in report.properties if not result.passed}
    assert "round_robin_turns" in failed
    result = failed["round_robin_turns"]
    counterexample, files = result.counterexample, result.files
    assert main(files.replay_arguments()) == 0
    replayed = [json.loads(line) for line in files.out.read_text().splitlines()]
    snapshot = Snapshot.from_directory(files.snapshot)
    assert snapshot.users == tuple(sorted(counterexample.snapshot.users, key=lambda user: user.id))
    real = run_engine(policy, snapshot, counterexample.events, counterexample.until)
    assert replayed == [decision.row() for decision in real.decisions]
    # Shrunk: without any one of its events the variant no longer breaks the property.
    for index in range(len(counterexample.events)):
        fewer = counterexample.events[:index] + counterexample.events[index + 1 :]
        result.property.check(
            run_engine(policy, counterexample.snapshot, fewer, counterexample.until, TurnSkippingEngine)
        )


def test_a_route_whose_when_implies_an_earlier_one_is_shadowed():
    from rota.testing import vocabulary
    from rota.verify import review_policy

    policy = compile_policy(
        load_policy("""
route spanish when contact.language == "es" { assign to space }
route spanish_vip when contact.language == "es" and "vip" in contact.tags { assign to space }
route rest { assign to space }
""")
    )
    shadowed = review_policy(policy, vocabulary(policy), None, "p.rota", None)[0]
    assert [finding.message.split(":")[0] for finding in shadowed.findings] == [
        "route `spanish_vip` can never be chosen"
    ]
    assert "all taken first by `spanish`" in shadowed.findings[0].message
    finding = shadowed.findings[0]
    assert (finding.file, finding.line, finding.column, finding.code.name) == ("p.rota", 3, 1, "unreachable-route")
    assert (finding.end_line, finding.end_column) == (3, len("route spanish_vip") + 1)  # the route's name ends it


def test_a_holiday_route_is_reachable_on_the_days_it_lists():
    """verify samples a week of `now`, and also every day a `now.date` list names: a holiday is not unreachable."""
    from rota.testing import vocabulary
    from rota.verify import review_policy

    policy = compile_policy(
        load_policy("""
timezone "Europe/Berlin"
route holiday when now.date in ["2026-12-25", "2027-01-01"] { unassign }
route never when now.date == "2026-02-30" { unassign }
route rest { assign to space }
""")
    )
    unreachable = review_policy(policy, vocabulary(policy), None, "p.rota", None)[0]
    assert [finding.message.split(":")[0] for finding in unreachable.findings] == ["route `never` can never be chosen"]


# ------------------------------------------------------------------ SPEC 4.1: reassign

DEMO = Snapshot.from_directory(POLICIES / "demo" / "snapshot")


def reassign_policy(text: str):
    return compile_policy(load_policy(text))


def checks_of(text: str, snapshot: Snapshot | None = DEMO, max_wait: int | None = None) -> dict:
    policy = reassign_policy(text)
    return {
        check.name: check for check in review_policy(policy, vocabulary(policy, snapshot), snapshot, "p.rota", max_wait)
    }


def test_verify_reports_the_release_properties_and_catches_an_engine_that_never_releases(tmp_path):
    text = 'route desk {\n  assign to team "Desk"\n  reassign when away 10m\n  reassign when unanswered 5m\n}\n'
    policy = reassign_policy(text)
    report = verify(policy, "p.rota", text, examples=60, failures_dir=tmp_path, engine_factory=ReleaseIgnoringEngine)
    failed = {result.property.name for result in report.properties if not result.passed}
    assert "releases" in failed
    assert verify(policy, "p.rota", text, examples=60, failures_dir=tmp_path).passed  # the engine itself
    assert (tmp_path / "releases" / "events.jsonl").exists()


def test_a_reassign_back_to_the_same_user_can_never_assign_even_without_a_snapshot():
    text = """\
route owner when contact.tier == "gold" {
  assign to user "u01"
  reassign when unanswered 5m -> owner_again
}

route everyone {
  assign to space
}

route owner_again {
  assign to user "u01"
}
"""
    check = checks_of(text, snapshot=None)["reassign_branches"]
    (finding,) = check.findings
    assert (finding.code.id, finding.line, finding.column) == ("V506", 3, 3)  # on the `reassign` option
    assert finding.message == (
        "`reassign when unanswered` of route `owner` can never assign: it branches to `owner_again`, which names "
        "u01, the user just released, so it fails with user_released"
    )
    assert check.note is None  # no team or space pool to read
    # `owner_again` comes after a route that takes every contact: only the reassign branch reaches it.
    assert checks_of(text, snapshot=None)["shadowed_routes"].findings == ()


def test_a_team_whose_filters_leave_only_the_released_user_can_never_assign_again():
    text = """\
route french when contact.language == "fr" {
  assign to team "French Desk"
  only "tech" in skills
  reassign when away 10m
}

route everyone {
  assign to space
}
"""
    (finding,) = checks_of(text)["reassign_branches"].findings
    assert finding.message.endswith(
        "it routes the contact again by `french`, whose only possible user is u08, the user just released, "
        "so it queues until its timeout"
    )
    assert checks_of(text.replace("away 10m", "away 10m -> everyone"))["reassign_branches"].findings == ()
    unread = checks_of(text, snapshot=None)["reassign_branches"]
    assert (unread.findings, unread.note) == ((), "team and space pools need --snapshot")
    # Without the filter the desk has two users: the second takes what the first let go.
    assert checks_of(text.replace('  only "tech" in skills\n', ""))["reassign_branches"].findings == ()


def test_the_longest_chain_of_waits_through_a_release_is_reported_and_held_to_max_wait():
    text = """\
route sticky when contact.last_agent != null {
  assign to user contact.last_agent
  reassign when away 2m -> general
}

route general {
  assign to team "General"
  timeout 30m -> unassign
  reassign when unanswered 5m
}
"""
    # sticky's release, then general's queue and release (it routes by general again), then its queue once more.
    longest = "sticky away 2m -> general 30m + unanswered 5m -> general 30m -> unassign"
    check = checks_of(text, max_wait=3600)["wait_chains"]
    assert check.note == f"longest 1h7m: {longest}"
    assert [(f.code.id, f.line, f.message) for f in check.findings] == [
        ("V507", 1, f"{longest} adds up to 1h7m, over the 1h limit"),
        ("V507", 6, "general 30m + unanswered 5m -> general 30m -> unassign adds up to 1h5m, over the 1h limit"),
    ]
    assert checks_of(text, max_wait=67 * 60)["wait_chains"].findings == ()
    # Without --max-wait it is skipped, and the longest chain still shown, to help choose one.
    assert checks_of(text)["wait_chains"].skipped == f"needs --max-wait; longest 1h7m: {longest}"
    assert checks_of('route desk {\n  assign to team "General"\n}\n', max_wait=60)["wait_chains"].note == (
        "no route reassigns"
    )
