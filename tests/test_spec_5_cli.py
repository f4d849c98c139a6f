"""SPEC 5.1: the command line. Exit codes 0 ok, 1 policy errors, 2 usage or input errors; never a traceback."""

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rota.cli import main
from rota.diagnostics import SHOWN_LINE_WIDTH

DEMO = Path(__file__).parent.parent / "policies" / "demo"
BAD_POLICY = 'route vip when "vip" in contact.tags {\n  assign to team "VIP"\n  usng least_open\n}\n'


def run(capsys, *argv):
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_check_prints_file_line_column_source_and_caret(tmp_path, capsys):
    policy = tmp_path / "bad.rota"
    policy.write_text(BAD_POLICY)
    code, out, _ = run(capsys, "check", policy)
    assert code == 1
    lines = out.splitlines()
    assert (
        lines[0]
        == f"{policy}:3:3: error: unexpected name `usng`; expected `using`, `only`, `priority`, `timeout`, `reassign` or `}}` [E101]"
    )
    assert lines[1:4] == ["    usng least_open", "    ^", "  hint: did you mean `using`?"]


GOLDEN = Path(__file__).parent / "golden" / "diagnostics"


@pytest.mark.parametrize(
    "case", ["three_mistakes", "unclosed_brace", "unclosed_parenthesis", "long_line", "static_rules"]
)
def test_check_prints_every_diagnostic_as_the_golden_file_says(case, capsys, monkeypatch):
    """Every syntax error in one run; an unclosed `{` at its route; a long line cut around the caret."""
    monkeypatch.chdir(GOLDEN)
    code, out, err = run(capsys, "check", f"{case}.rota")
    assert code == 1 and out == (GOLDEN / f"{case}.expected").read_text()


def test_a_long_source_line_is_shown_cut_around_the_caret(capsys, monkeypatch):
    monkeypatch.chdir(GOLDEN)
    _, out, _ = run(capsys, "check", "long_line.rota")
    headline, shown, caret, _ = out.splitlines()
    assert headline.startswith("long_line.rota:1:288: error: unexpected `=`")
    assert shown.startswith("  ...") and shown.endswith("...") and len(shown) == 2 + 3 + SHOWN_LINE_WIDTH + 3
    assert shown[caret.index("^")] == "="


def test_check_json_and_a_clean_file(tmp_path, capsys):
    policy = tmp_path / "bad.rota"
    policy.write_text(BAD_POLICY)
    code, out, _ = run(capsys, "check", policy, "--format", "json")
    assert code == 1 and json.loads(out)[0]["line"] == 3
    code, out, _ = run(capsys, "check", DEMO / "desk.rota", "--snapshot", DEMO / "snapshot")
    assert (code, out) == (0, "")


def test_check_against_a_snapshot_finds_unknown_fields_and_warns_on_teams(tmp_path, capsys):
    policy = tmp_path / "p.rota"
    policy.write_text('route r {\n  assign to team "Nobody"\n  only skils == "x"\n}\n')
    code, out, _ = run(capsys, "check", policy, "--snapshot", DEMO / "snapshot")
    assert code == 1
    assert "warning: the snapshot has no team `Nobody`" in out
    assert "error: the snapshot's users have no field `skils`" in out and "did you mean `skills`?" in out
    assert "warning: the snapshot has no team `Nobody`: this route will fail with team_empty [E221]" in out


def test_check_json_carries_each_code_name_and_end(tmp_path, capsys):
    policy = tmp_path / "p.rota"
    policy.write_text('route r {\n  assign to team "Nobody"\n  only skils == "x"\n}\n')
    code, out, _ = run(capsys, "check", policy, "--snapshot", DEMO / "snapshot", "--format", "json")
    assert code == 1
    found = [
        (d["code"], d["name"], d["severity"], d["line"], d["column"], d["end_line"], d["end_column"])
        for d in json.loads(out)
    ]
    assert found == [
        ("E221", "unknown-team", "warning", 2, 3, 2, len('  assign to team "Nobody"') + 1),
        ("E201", "unknown-field", "error", 3, 8, 3, len("  only skils") + 1),
    ]


def test_fmt_rewrites_and_check_mode_reports(tmp_path, capsys):
    policy = tmp_path / "p.rota"
    policy.write_text("route r { assign to space only online timeout 90s }\n")
    code, _, err = run(capsys, "fmt", policy, "--check")
    assert code == 1 and "would reformat" in err
    assert run(capsys, "fmt", policy)[0] == 0
    assert policy.read_text() == "route r {\n  assign to space\n  only online\n  timeout 1m30s\n}\n"
    assert run(capsys, "fmt", policy, "--check")[0] == 0


def test_batch_writes_one_row_per_contact_in_input_order(tmp_path, capsys):
    out = tmp_path / "out.parquet"
    code, _, err = run(
        capsys,
        "batch",
        DEMO / "desk.rota",
        "--snapshot",
        DEMO / "snapshot",
        "--contacts",
        DEMO / "contacts.jsonl",
        "--out",
        out,
        "--now",
        "2026-11-25T10:00:00Z",
    )
    assert code == 0 and "routed 60 contacts" in err
    table = pq.read_table(out)
    assert table.column_names == ["contact", "route", "outcome", "user", "reason", "deadline"]
    assert table.schema.types == [pa.string()] * 5 + [pa.timestamp("us")]  # text, whatever the batch held it as
    ids = [json.loads(line)["id"] for line in (DEMO / "contacts.jsonl").read_text().splitlines()]
    assert table.column("contact").to_pylist() == ids


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            [
                "batch",
                DEMO / "desk.rota",
                "--snapshot",
                "nowhere",
                "--contacts",
                DEMO / "contacts.jsonl",
                "--out",
                "x.csv",
            ],
            "no such snapshot directory",
        ),
        (
            [
                "batch",
                DEMO / "desk.rota",
                "--snapshot",
                DEMO / "snapshot",
                "--contacts",
                "missing.jsonl",
                "--out",
                "x.csv",
            ],
            "no such contacts file",
        ),
        (
            [
                "batch",
                DEMO / "desk.rota",
                "--snapshot",
                DEMO / "snapshot",
                "--contacts",
                DEMO / "contacts.jsonl",
                "--out",
                "x.csv",
                "--now",
                "yesterday",
            ],
            "not an ISO 8601 time",
        ),
        (["check", "missing.rota"], "cannot read"),
    ],
)
def test_input_errors_exit_2_with_one_line(capsys, argv, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "x.csv").exists()


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as raised:
        main(["batch"])
    assert raised.value.code == 2


def test_replay_writes_decisions_as_json_lines(tmp_path, capsys):
    out = tmp_path / "replay.jsonl"
    code, _, _ = run(
        capsys,
        "replay",
        DEMO / "desk.rota",
        "--snapshot",
        DEMO / "snapshot",
        "--events",
        DEMO / "events.jsonl",
        "--out",
        out,
    )
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert code == 0 and rows
    assert all(list(row) == ["at", "contact", "route", "outcome", "user", "reason", "deadline"] for row in rows)
    assert [row["at"] for row in rows] == sorted(row["at"] for row in rows)


def test_the_console_script_runs():
    result = subprocess.run(
        [Path(sys.executable).parent / "rota", "check", DEMO / "desk.rota"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "no problems" in result.stderr


@pytest.mark.parametrize(
    "policy_text, contacts, code",
    [(None, "contacts.jsonl", 0), (None, "missing.jsonl", 2), ("route r {", "contacts.jsonl", 1)],
)
def test_the_console_scripts_batch_ends_with_its_output_written_and_its_exit_code(
    tmp_path, policy_text, contacts, code
):
    """`rota batch` leaves its process without the interpreter's teardown: all it printed and wrote is there."""
    policy = DEMO / "desk.rota"
    if policy_text is not None:
        policy = tmp_path / "broken.rota"
        policy.write_text(policy_text)
    out = tmp_path / "out.csv"
    argv = ["batch", policy, "--snapshot", DEMO / "snapshot", "--contacts", DEMO / contacts, "--out", out]
    result = subprocess.run(
        [Path(sys.executable).parent / "rota", *argv, "--now", "2026-11-25T10:00:00Z"],
        capture_output=True,
        text=True,
        env={name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"},  # pipes buffer
    )
    assert result.returncode == code
    if code == 0:
        assert "routed 60 contacts" in result.stderr and "busiest users" in result.stderr
        assert len(out.read_text().splitlines()) == 61
    elif code == 1:  # the diagnostics go to stdout, which a pipe buffers
        assert "broken.rota:1:" in result.stdout and not out.exists()
    else:
        assert result.stderr.startswith("rota: error:") and not out.exists()


@pytest.mark.parametrize("now", ["2026-11-25T10:00:00Z", "2026-11-25T10:00:00.5Z"])
def test_batch_text_output_writes_times_as_replay_does(tmp_path, now):
    """A deadline reads the same in every output: whole seconds without a fraction, `Z` for UTC."""
    from rota.engine import format_instant, parse_instant

    out = tmp_path / "out.json"
    argv = ["batch", str(DEMO / "desk.rota"), "--snapshot", str(DEMO / "snapshot")]
    assert main([*argv, "--contacts", str(DEMO / "contacts.jsonl"), "--out", str(out), "--now", now]) == 0
    deadlines = {row["deadline"] for row in json.loads(out.read_text()) if row["deadline"]}
    assert deadlines == {format_instant(parse_instant(now) + timedelta(minutes=30))}


def test_a_policy_using_reassign_is_checked_routed_by_batch_without_timers_and_formatted(tmp_path, capsys):
    """SPEC 4.1: `rota batch sets no timers`; the policy checks clean and fmt writes 300s as 5m."""
    policy = tmp_path / "desk.rota"
    policy.write_text("route desk {\n  assign to space\n  reassign when unanswered 300s\n}\n")
    assert run(capsys, "check", policy)[0] == 0
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("id\nc1\n")
    out = tmp_path / "o.jsonl"
    argv = ["batch", policy, "--snapshot", DEMO / "snapshot", "--contacts", contacts, "--out", out]
    assert run(capsys, *argv, "--now", "2026-11-25T09:00:00Z")[0] == 0
    assert [row["outcome"] for row in map(json.loads, out.read_text().splitlines())] == ["assigned"]
    assert run(capsys, "fmt", policy)[0] == 0
    assert policy.read_text() == "route desk {\n  assign to space\n  reassign when unanswered 5m\n}\n"


def test_check_plan_says_which_path_each_filter_takes(capsys, monkeypatch):
    """Static, cap, indexed (which index, keyed by which contact field) and scan (and why), per route."""
    monkeypatch.chdir(GOLDEN.parent / "plan")
    code, out, err = run(capsys, "check", "--plan", "paths.rota")
    assert code == 0 and err == "checked 1 file: no problems\n"
    assert out == (GOLDEN.parent / "plan" / "paths.expected").read_text()


def test_check_plan_prints_no_plan_for_a_policy_with_errors_and_no_json(tmp_path, capsys):
    policy = tmp_path / "bad.rota"
    policy.write_text(BAD_POLICY)
    code, out, _ = run(capsys, "check", "--plan", policy)
    assert code == 1 and "route vip" not in out
    code, _, err = run(capsys, "check", "--plan", "--format", "json", policy)
    assert code == 2 and "`--plan` prints text" in err
