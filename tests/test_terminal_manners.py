"""A terminal tool's manners: what rota prints when it is not on a terminal, the files it
writes, its version and help, its counts and its percentiles."""

import argparse
import importlib.metadata
import io
import json
import os
import re
import stat
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest

import rota
from rota.cli import _parser, main
from rota.dsl import load_policy
from rota.engine import compile_policy
from rota.report import console_for
from rota.simulate.measures import ASSIGNED_AFTER_WAITING, SimulationMeasures
from rota.simulate.report import print_simulation_summary
from rota.testing import Snapshot, UserRecord
from rota.wording import plural

POLICIES = Path(__file__).parent.parent / "policies"
DEMO = POLICIES / "demo"
SPINNER_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def batch(out: Path, contacts: Path = DEMO / "contacts.jsonl") -> list[str]:
    return [
        "batch",
        DEMO / "desk.rota",
        "--snapshot",
        DEMO / "snapshot",
        "--contacts",
        contacts,
        "--out",
        out,
        "--now",
        "2026-11-25T10:00:00Z",
    ]


def replay(out: Path, *more) -> list[str]:
    return [
        "replay",
        DEMO / "desk.rota",
        "--snapshot",
        DEMO / "snapshot",
        "--events",
        DEMO / "events.jsonl",
        "--out",
        out,
        *more,
    ]


def simulate(report: Path, *more) -> list[str]:
    return ["simulate", DEMO / "desk.rota", "--snapshot", DEMO / "snapshot", "--report", report, "--hours", "1", *more]


# ----------------------------------------------------------- not a terminal


def test_a_long_path_stays_on_one_line_when_not_a_terminal(tmp_path, capsys):
    folder = tmp_path / ("a-folder-whose-name-goes-on-and-on-" * 3)
    folder.mkdir()
    out = folder / "decisions.csv"
    code, _, err = run(capsys, *batch(out))
    assert code == 0
    assert any(line.endswith(f"; wrote {out}") for line in err.splitlines()), err


def test_no_line_of_any_command_ends_in_a_space_or_holds_control_codes(tmp_path, capsys):
    """Pipes, files, `make` and CI get plain lines: no padding, no colour, no spinner, no cursor moves."""
    engine_file = tmp_path / "engine.duckdb"
    commands = {
        "check": ["check", *sorted(POLICIES.glob("*.rota")), "--snapshot", DEMO / "snapshot"],
        "batch": batch(tmp_path / "batch.csv"),
        "replay": replay(tmp_path / "replay.jsonl", "--db", engine_file),
        "log": ["log", "--db", engine_file],
        "verify": ["verify", DEMO / "desk.rota", "--examples", "5", "--failures", tmp_path / "failures"],
        "simulate": simulate(tmp_path / "simulation.html"),
    }
    offending = {}
    for name, argv in commands.items():
        code, out, err = run(capsys, *argv)
        assert code == 0, (name, err)
        lines = (out + err).splitlines()
        assert lines, name
        offending[name] = [
            line
            for line in lines
            if line != line.rstrip() or "\x1b" in line or "\r" in line or set(line) & set(SPINNER_FRAMES)
        ]
    assert offending == {name: [] for name in commands}


def test_help_is_not_wrapped_when_not_a_terminal(capsys):
    with pytest.raises(SystemExit):
        main(["verify", "--help"])
    help_text = capsys.readouterr().out
    assert "(default: verify-failures)" in help_text
    assert all(line == line.rstrip() for line in help_text.splitlines())
    assert any(len(line) > 100 for line in help_text.splitlines())  # the --snapshot line, whole


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_rich_draws_as_usual():
    console = console_for(_Terminal())
    assert console.is_terminal
    console.print("word " * 40)
    assert max(len(line) for line in console.file.getvalue().splitlines()) <= console.width


# ------------------------------------------------------------------ counts


@pytest.mark.parametrize(
    "count, noun, nouns, said",
    [
        (0, "decision", None, "0 decisions"),
        (1, "decision", None, "1 decision"),
        (2, "decision", None, "2 decisions"),
        (1_204, "contact", None, "1,204 contacts"),
        (1, "reply", "replies", "1 reply"),
        (3, "reply", "replies", "3 replies"),
    ],
)
def test_plural(count, noun, nouns, said):
    assert plural(count, noun, nouns) == said


def test_a_count_of_one_is_singular(tmp_path, capsys):
    contacts = tmp_path / "one.jsonl"
    contacts.write_text(json.dumps({"id": "c1", "language": "en", "tags": []}) + "\n")
    events = tmp_path / "one_event.jsonl"
    events.write_text(json.dumps({"at": "2026-11-25T09:00:00Z", "type": "route", "contact": "c1"}) + "\n")
    _, _, err = run(capsys, *batch(tmp_path / "out.csv", contacts))
    assert "routed 1 contact in " in err
    arguments = replay(tmp_path / "out.jsonl")
    arguments[arguments.index("--events") + 1] = events
    _, _, err = run(capsys, *arguments)
    assert "replayed 1 event into 1 decision in " in err


# ------------------------------------------------------------- permissions


@pytest.fixture
def umask(request):
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask, suffix", [(0o022, ".csv"), (0o002, ".parquet"), (0o022, ".jsonl")], indirect=["umask"])
def test_batch_and_replay_outputs_get_the_umask_not_owner_only(umask, suffix, tmp_path, capsys):
    assert run(capsys, *batch(tmp_path / f"decisions{suffix}"))[0] == 0
    assert run(capsys, *replay(tmp_path / "replay.jsonl"))[0] == 0
    assert mode(tmp_path / f"decisions{suffix}") == 0o666 & ~umask
    assert mode(tmp_path / "replay.jsonl") == 0o666 & ~umask
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []  # no temporary file left


def test_simulate_outputs_get_the_umask_and_a_rewritten_policy_keeps_its_mode(tmp_path, capsys):
    policy = tmp_path / "policy" / "desk.rota"
    policy.parent.mkdir()
    policy.write_text("route   general { assign to space }\n")
    policy.chmod(0o640)
    link = policy.parent / "link.rota"
    link.symlink_to(policy)
    out = tmp_path / "out"
    out.mkdir()
    previous = os.umask(0o022)
    try:
        code, _, err = run(capsys, *simulate(out / "report.html", "--out", out / "decisions.jsonl"))
        assert run(capsys, "fmt", link)[0] == 0
    finally:
        os.umask(previous)
    assert code == 0, err
    assert {path.name: mode(path) for path in out.iterdir()} == {
        "report.html": 0o644,
        "report.png": 0o644,
        "decisions.jsonl": 0o644,
    }
    assert link.is_symlink() and policy.read_text().startswith("route general {")
    assert mode(policy) == 0o640
    assert sorted(path.name for path in policy.parent.iterdir()) == ["desk.rota", "link.rota"]


# ----------------------------------------------------------- version, help


def test_version(capsys):
    with pytest.raises(SystemExit) as raised:
        main(["--version"])
    assert raised.value.code == 0
    assert capsys.readouterr().out == f"rota {importlib.metadata.version('rota')}\n"
    assert rota.__version__ == importlib.metadata.version("rota") == "0.1.0"


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {"rota": parser, **action.choices}


def test_every_option_has_a_help_line_that_says_its_default():
    missing, no_default = [], []
    for name, parser in _subcommands(_parser()).items():
        formatter = parser._get_formatter()
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            where = f"{name} {'/'.join(action.option_strings) or action.metavar}"
            if not action.help:
                missing.append(where)
                continue
            default = action.default
            if default is None or default is argparse.SUPPRESS or isinstance(default, bool):
                continue
            shown = f"{default:g}" if isinstance(default, float) else str(default)
            if f"(default: {shown})" not in formatter._expand_help(action):
                no_default.append(where)
    assert (missing, no_default) == ([], [])


# ------------------------------------------------------------------ verify


def verify_lines(capsys, tmp_path, *arguments) -> tuple[int, list[str]]:
    code, out, _ = run(capsys, "verify", *arguments, "--examples", "10", "--failures", tmp_path / "failures")
    return code, out.splitlines()


def test_verify_shows_a_skipped_check_as_skipped_and_counts_it(tmp_path, capsys):
    code, lines = verify_lines(capsys, tmp_path, POLICIES / "vip_desk.rota")
    assert code == 0
    assert "- every filter can be passed: skipped (needs --snapshot)" in lines
    assert "- no starved users: skipped (needs --snapshot)" in lines
    assert (
        "- escalation chains within --max-wait: skipped (needs --max-wait; "
        "longest 7d30m: vip 30m -> general 7d -> fails)"
    ) in lines
    assert not [line for line in lines if line.startswith("✓") and "skipped" in line]
    assert re.fullmatch(r"10 passed, 4 skipped in \d+\.\d s", lines[-1]), lines[-1]


def test_verify_counts_failures_passes_and_skips(tmp_path, capsys):
    code, lines = verify_lines(capsys, tmp_path, POLICIES / "escalation.rota", "--max-wait", "2h")
    assert code == 1
    assert re.fullmatch(r"1 failed, 11 passed, 2 skipped in \d+\.\d s", lines[-1]), lines[-1]
    code, lines = verify_lines(
        capsys, tmp_path, POLICIES / "vip_desk.rota", "--snapshot", DEMO / "snapshot", "--max-wait", "8d"
    )
    assert code == 0
    assert re.fullmatch(r"all 14 passed in \d+\.\d s", lines[-1]), lines[-1]


# ------------------------------------------------------------- percentiles

ONE_AT_A_TIME = """\
route desk {
  assign to space
  only online
  only open < 1
  timeout 1h -> unassign
}
"""
WAITS = [60.0, 120.0, 180.0, 240.0, 300.0]  # 1, 2, 3, 4, 5 minutes


def test_replay_waits_are_nearest_rank_percentiles(tmp_path, capsys):
    """Five contacts wait for one agent who takes them one at a time: 1, 2, 3, 4 and 5 minutes."""
    (tmp_path / "desk.rota").write_text(ONE_AT_A_TIME)
    Snapshot(users=(UserRecord("u1", "offline"),)).write(tmp_path / "snapshot")
    events = [{"at": "2026-11-25T09:00:00Z", "type": "route", "contact": f"c{n}"} for n in range(1, 6)]
    events.append({"at": "2026-11-25T09:01:00Z", "type": "status", "user": "u1", "status": "online"})
    events += [{"at": f"2026-11-25T09:0{n + 1}:00Z", "type": "close", "contact": f"c{n}"} for n in range(1, 5)]
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(event) + "\n" for event in events))
    code, _, err = run(
        capsys,
        "replay",
        tmp_path / "desk.rota",
        "--snapshot",
        tmp_path / "snapshot",
        "--events",
        tmp_path / "events.jsonl",
        "--out",
        tmp_path / "out.jsonl",
    )
    assert code == 0, err
    assert "queue waits of 5 assigned contacts: p50 3m00s, p90 5m00s, max 5m00s" in err


def test_simulate_waits_are_the_same_percentiles(tmp_path):
    policy = compile_policy(load_policy(ONE_AT_A_TIME))
    run_so_far = SimpleNamespace(settings=SimpleNamespace(hours=1), decisions=[], seconds=0.1, policy=policy)
    measures = SimulationMeasures(
        arrived=5,
        outcomes=Counter(assigned=5),
        endings=Counter(),
        assigned_by_agent={"u1": 5},
        gini=0.0,
        max_min_ratio=1.0,
        queue_waits={"desk": WAITS},
        time_to_assignment=WAITS,
        route_fates={"desk": Counter({ASSIGNED_AFTER_WAITING: 5})},
        branches=Counter(),
    )
    stream = io.StringIO()
    print_simulation_summary(console_for(stream), run_so_far, measures, "r.html", "r.png")
    lines = stream.getvalue().splitlines()
    assert "time to assignment       p50 3m00s · p90 5m00s · max 5m00s" in lines
    assert any(re.fullmatch(r"desk .* 3m00s 5m00s 5m00s", line) for line in lines), lines
