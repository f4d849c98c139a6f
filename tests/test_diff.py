"""`rota diff OLD NEW`: both policies on one history, what differs, and the deploy gate (README "Change a policy safely")."""

import json
import os
import shutil
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rota.cli import main
from rota.diff import EventHistory, diff_files, diff_policies, static_diff
from rota.diff.text import static_lines
from rota.dsl import format_policy, load_policy
from rota.engine import Engine, compile_policy, event_from_record, load_roster, parse_instant
from rota.engine.history import state_of
from rota.export_folder import write_export
from rota.storage import load_snapshot
from rota.testing import event_logs, snapshots, vocabulary
from rota.vocabulary import HistoryEventType, Outcome

DEMO = Path(__file__).parent.parent / "policies" / "demo"
GOLDEN = Path(__file__).parent / "golden" / "diff"
README = Path(__file__).parent.parent / "README.md"
DESK = (DEMO / "desk.rota").read_text(encoding="utf-8")
# The README's example: the VIP desk's cap lowered from 5 open contacts to 3.
DESK_CAP_3 = DESK.replace("only open < 5", "only open < 3")
NOW = "2026-11-25T10:00:00Z"


@pytest.fixture
def desks(tmp_path, monkeypatch):
    """desk.rota and desk-new.rota (VIP cap 3) in the working directory, so the report names them so."""
    monkeypatch.chdir(tmp_path)
    Path("desk.rota").write_text(DESK, encoding="utf-8")
    Path("desk-new.rota").write_text(DESK_CAP_3, encoding="utf-8")
    return tmp_path


def run(capsys, *argv):
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def on_events(*extra):
    return ("--snapshot", DEMO / "snapshot", "--events", DEMO / "events.jsonl", *extra)


def on_contacts(*extra):
    return ("--snapshot", DEMO / "snapshot", "--contacts", DEMO / "contacts.jsonl", "--now", NOW, *extra)


def assert_golden(name: str, text: str) -> None:
    path = GOLDEN / f"{name}.expected"
    if os.environ.get("ROTA_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


# ------------------------------------------------------------ the report


def readme_example() -> tuple[list[str], str]:
    """The README's `rota diff` command (its arguments) and the report it shows."""
    text = README.read_text(encoding="utf-8")
    command = text.index("rota diff policies/demo/desk.rota desk-cap3.rota")
    arguments = text[command : text.index("```", command)].replace("\\\n", " ").split()[1:]
    report = text.index("```\n", text.index("```", command) + 3) + 4
    return arguments, text[report : text.index("```", report)]


def test_a_lower_vip_cap_on_the_demo_day_gives_the_readmes_report(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(DEMO, "policies/demo")
    Path("desk-cap3.rota").write_text(DESK_CAP_3, encoding="utf-8")
    arguments, shown = readme_example()
    code, out, err = run(capsys, *arguments)
    assert (code, err) == (1, "rota diff: 32 decisions differ, more than --max-changed 10\n")  # as the README says
    if os.environ.get("ROTA_UPDATE_GOLDEN"):
        README.write_text(README.read_text(encoding="utf-8").replace(shown, out), encoding="utf-8")
        shown = out
    assert out == shown


def test_a_lower_vip_cap_on_the_demo_backlog_reads_as_the_golden_report(desks, capsys):
    code, out, _ = run(capsys, "diff", "desk.rota", "desk-new.rota", *on_contacts("--first", 3))
    assert code == 0
    assert_golden("desk_vip_cap_batch", out)


def test_the_json_report_gives_each_measure_old_against_new(desks, capsys):
    code, out, _ = run(capsys, "diff", "desk.rota", "desk-new.rota", *on_events("--format", "json", "--first", 2))
    report = json.loads(out)
    assert code == 0
    assert report["static"]["changed"] == [
        {
            "route": "vip",
            "condition": None,
            "action": None,
            "options_removed": ["only open < 5"],
            "options_added": ["only open < 3"],
        }
    ]
    decisions = report["decisions"]
    assert 0 < decisions["changed"] <= decisions["matched"]
    assert decisions["matched"] >= max(decisions["old"], decisions["new"])
    outcomes = report["outcomes"]
    assert sum(counts["old"] for counts in outcomes.values()) == decisions["old"]
    assert sum(counts["new"] for counts in outcomes.values()) == decisions["new"]
    # fewer VIP agents under the cap: more VIP contacts wait out their 30 minutes
    assert report["timeouts"]["vip"]["new"] > report["timeouts"]["vip"]["old"]
    assert outcomes["timed_out"]["new"] == sum(route["new"] for route in report["timeouts"].values())
    assert set(report["waits"]["vip"]["old"]) == {"assignments", "waited", "p50", "p90"}
    assert set(report["fairness"]["VIP Desk"]["old"]) == {"members", "gini", "max_min"}
    first = report["first_changed"]
    assert len(first) == 2 and first[0]["old"] != first[0]["new"]
    assert first[0]["old"]["contact"] == first[0]["contact"]
    # each side's decision explained as `rota explain --format json` does, the row the same
    explained = first[0]["old_explained"], first[0]["new_explained"]
    assert [side["decision"] for side in explained] == [first[0]["old"], first[0]["new"]]
    assert [step["only"] for step in explained[1]["filters"]] == ["only online", "only open < 3"]
    assert report["gate"] == {"max_changed": None, "passed": True}


def test_the_same_policy_written_differently_gives_no_difference(desks, capsys):
    Path("desk-copy.rota").write_text("# reformatted\n" + format_policy(load_policy(DESK)), encoding="utf-8")
    code, out, _ = run(capsys, "diff", "desk.rota", "desk-copy.rota", *on_events("--max-changed", 0))
    assert code == 0
    assert "routes\n  no difference: the same routes" in out
    assert "decisions  0 of " in out
    assert "whose fate differs (of" not in out


# ------------------------------------------------------------ the gate


@pytest.mark.parametrize(
    "gate, expected",
    [((), 0), (("--max-changed", 0), 1), (("--max-changed", 100_000), 0)],
    ids=["no gate", "above", "within"],
)
def test_the_gate_fails_only_above_max_changed(desks, capsys, gate, expected):
    code, _, err = run(capsys, "diff", "desk.rota", "desk-new.rota", *on_events(*gate))
    assert code == expected
    assert ("more than --max-changed" in err) == (expected == 1)


def test_the_gate_allows_exactly_max_changed(desks, capsys):
    _, out, _ = run(capsys, "diff", "desk.rota", "desk-new.rota", *on_events("--format", "json"))
    changed = json.loads(out)["decisions"]["changed"]
    assert run(capsys, "diff", "desk.rota", "desk-new.rota", *on_events("--max-changed", changed))[0] == 0
    assert run(capsys, "diff", "desk.rota", "desk-new.rota", *on_events("--max-changed", changed - 1))[0] == 1


@pytest.mark.parametrize(
    "argv, message",
    [
        (("--events", DEMO / "events.jsonl"), "give --snapshot DIR"),
        (("--snapshot", DEMO / "snapshot", "--events", "missing.jsonl"), "missing.jsonl: no such event log"),
        (on_events("--now", NOW), "--now is the instant a batch"),
        (on_contacts("--until", NOW), "--until applies to an event log"),
        (on_events("--max-changed", -1), "--max-changed must be 0 or more"),
        (("--export", "missing"), "missing: no such export folder"),
        (("--export", ".", "--snapshot", DEMO / "snapshot"), "--export holds its own snapshot"),
    ],
)
def test_bad_input_exits_2_with_one_line(desks, capsys, argv, message):
    code, out, err = run(capsys, "diff", "desk.rota", "desk-new.rota", *argv)
    assert code == 2 and out == ""
    assert message in err and len(err.splitlines()) == 1


def test_a_policy_with_errors_exits_1_with_its_diagnostics(desks, capsys):
    Path("broken.rota").write_text(DESK.replace("using least_open", "usng least_open"), encoding="utf-8")
    code, out, _ = run(capsys, "diff", "desk.rota", "broken.rota", *on_events())
    assert code == 1
    assert out.startswith("broken.rota:7:3: error: unexpected name `usng`")


@pytest.fixture
def export(desks):
    """A `rota export` folder of the demo day's second half, as the service writes one: the engine's state
    when the window starts (contacts held and queued), then the window's events, a policy line among them."""
    records = [json.loads(line) for line in (DEMO / "events.jsonl").read_text(encoding="utf-8").splitlines()]
    policy = compile_policy(load_policy(DESK))
    engine = Engine(policy, load_roster(load_snapshot(DEMO / "snapshot").connection))
    half = len(records) // 2
    since = records[half]["at"]
    for record in records[:half]:
        engine.handle(event_from_record(record))
    engine.advance(parse_instant(since), inclusive=False)
    policy_line = {"at": since, "type": HistoryEventType.POLICY.value, "version": policy.version}
    folder = {
        "since": since,
        "until": records[-1]["at"],
        "history_began": records[0]["at"],
        "snapshot": state_of(engine, parse_instant(since)),
        "events": [policy_line, *records[half:]],
        "policies": [{"version": policy.version, "text": DESK}],
    }
    write_export(Path("export"), folder)
    return Path("export")


def test_on_an_export_old_decides_as_rota_replay_export_and_new_differs(export, capsys):
    assert run(capsys, "replay", "--export", export, "--out", "replayed.jsonl")[0] == 0
    replayed = [json.loads(line) for line in Path("replayed.jsonl").read_text(encoding="utf-8").splitlines()]
    code, out, _ = run(capsys, "diff", "desk.rota", "desk-new.rota", "--export", export, "--format", "json")
    report = json.loads(out)
    assert code == 0 and report["decisions"]["old"] == len(replayed)
    assert {o: n["old"] for o, n in report["outcomes"].items() if n["old"]} == Counter(r["outcome"] for r in replayed)
    assert report["decisions"]["changed"] > 0
    same = json.loads(run(capsys, "diff", "desk.rota", "desk.rota", "--export", export, "--format", "json")[1])
    assert same["decisions"]["changed"] == 0 and same["static"]["identical"]


def test_on_an_export_each_differing_contact_is_explained_under_both_policies(export, capsys):
    """From the export's saved state: the explanation of each side's decision is of that decision."""
    code, out, _ = run(capsys, "diff", "desk.rota", "desk-new.rota", "--export", export, "--format", "json")
    report = json.loads(out)
    first = report["first_changed"]
    assert code == 0 and first
    for changed in first:
        for side in ("old", "new"):
            explained = changed[f"{side}_explained"]
            assert explained is not None, (changed["contact"], side)
            assert explained["decision"]["contact"] == changed["contact"]


def test_an_exports_snapshot_and_event_log_also_run_as_files(export, capsys):
    """Its `policy` lines passed by, its snapshot folder read as SPEC 1's tables (no contact held at the start)."""
    files = ("--snapshot", export / "snapshot", "--events", export / "events.jsonl", "--format", "json")
    code, out, _ = run(capsys, "diff", "desk.rota", "desk-new.rota", *files)
    assert code == 0 and json.loads(out)["decisions"]["changed"] > 0


# ------------------------------------------------------------ the static difference

OLD = """
route vip when "vip" in contact.tags { assign to team "VIP" using least_open only online priority 10 }
route returning when contact.last_agent != null { assign to user contact.last_agent }
route spanish when contact.language == "es" { assign to team "ES" }
route general { assign to space only online timeout 1d -> unassign }
"""
NEW = """
timezone "Europe/Berlin"
route returning when contact.last_agent != null { assign to user contact.last_agent }
route french when contact.language == "fr" { assign to team "FR" }
route general when contact.tier != 1 { assign to space only online only open < 6 timeout 2h -> unassign }
route vip { assign to team "VIP Desk" using least_open only online priority 10 }
"""


def test_routes_added_removed_reordered_and_changed():
    static = static_diff(load_policy(OLD), load_policy(NEW))
    assert static.added == ("french",)
    assert static.removed == ("spanish",)
    assert static.moved == ("vip",)  # returning and general kept their order: vip is the one that moved
    assert static.timezone == (None, "Europe/Berlin")
    general, vip = static.changed  # in NEW's order
    assert vip.route == "vip"
    assert vip.condition == ('when "vip" in contact.tags', "")
    assert vip.action == ('assign to team "VIP"', 'assign to team "VIP Desk"')
    assert (vip.options_removed, vip.options_added) == ((), ())
    assert general.route == "general" and general.condition == ("", "when contact.tier != 1")
    assert general.action is None
    assert general.options_removed == ("timeout 1d -> unassign",)
    assert general.options_added == ("only open < 6", "timeout 2h -> unassign")


def test_the_static_difference_in_words():
    assert static_lines(static_diff(load_policy(OLD), load_policy(NEW))) == [
        "timezone  UTC (none given) -> Europe/Berlin",
        "added     french",
        "removed   spanish",
        "reordered vip: now returning -> french -> general -> vip",
        "changed   general",
        "  - (no when: always holds)",
        "  + when contact.tier != 1",
        "  - timeout 1d -> unassign",
        "  + only open < 6",
        "  + timeout 2h -> unassign",
        "changed   vip",
        '  - when "vip" in contact.tags',
        "  + (no when: always holds)",
        '  - assign to team "VIP"',
        '  + assign to team "VIP Desk"',
    ]


def test_options_in_another_order_and_comments_are_no_change():
    shuffled = OLD.replace(
        "using least_open only online priority 10", "priority 10 # first\n only online using least_open"
    )
    assert static_diff(load_policy(OLD), load_policy(shuffled)).identical


# ------------------------------------------------------------ properties

SELF_POLICY = compile_policy(load_policy(DESK.replace('timezone "Europe/Berlin"\n', "")))
OTHER_POLICY = compile_policy(load_policy(DESK_CAP_3.replace("using least_open", "using round_robin")))
WORDS = vocabulary(SELF_POLICY)
PROPERTY_SETTINGS = settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))


@PROPERTY_SETTINGS
@given(snapshot=snapshots(WORDS), log=event_logs(WORDS))
def test_a_policy_against_itself_changes_no_decision(snapshot, log):
    reparsed = compile_policy(load_policy(format_policy(SELF_POLICY.policy)))
    history = EventHistory(snapshot.roster, sorted(log.events, key=lambda event: event.at), log.until)
    diff = diff_policies(SELF_POLICY, reparsed, history)
    assert diff.identical and diff.changed_decisions == 0 and not diff.comparison.changed_contacts
    assert diff.old == diff.new


@PROPERTY_SETTINGS
@given(snapshot=snapshots(WORDS), log=event_logs(WORDS), swap=st.booleans())
def test_changed_decisions_are_the_same_both_ways_and_cover_the_difference_in_counts(snapshot, log, swap):
    history = EventHistory(snapshot.roster, sorted(log.events, key=lambda event: event.at), log.until)
    there = diff_policies(SELF_POLICY, OTHER_POLICY, history)
    back = diff_policies(OTHER_POLICY, SELF_POLICY, history)
    assert there.changed_decisions == back.changed_decisions
    assert {c.contact for c in there.comparison.changed_contacts} == {
        c.contact for c in back.comparison.changed_contacts
    }
    comparison = there.comparison
    assert comparison.changed_decisions >= abs(comparison.old_decisions - comparison.new_decisions)
    assert (comparison.changed_decisions == 0) == (
        there.old.outcomes == there.new.outcomes and not comparison.changed_contacts
    )


# ------------------------------------------------------------ the benchmark


def test_the_benchmarks_history_is_read_back_as_it_was_written(tmp_path, monkeypatch):
    """bench/diff.py writes replay.py's roster and log as files: both policies run on them, and differ."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent.parent / "bench"))
    import diff as bench  # a script's module, found on the path set above

    snapshot, log = bench.write_history(tmp_path, 400, 30)
    written = load_roster(load_snapshot(snapshot).connection)
    built = bench.roster(30, 0.3)
    assert {(u.id, u.status) for u in written.users.values()} == {(u.id, u.status) for u in built.users.values()}
    assert written.members == built.members
    (tmp_path / "old.rota").write_text(bench.POLICY, encoding="utf-8")
    (tmp_path / "new.rota").write_text(bench.NEW_POLICY, encoding="utf-8")
    diff = diff_files(tmp_path / "old.rota", tmp_path / "new.rota", snapshot, events=log)
    assert diff.old.outcomes[Outcome.ASSIGNED] > 0
    assert [change.route for change in diff.static.changed] == ["general"]
    assert sum(len(fairness.assigned) for fairness in diff.old.fairness.values()) > 0
