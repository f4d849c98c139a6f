"""`rota explain` on files (issue 12): the text pinned by golden files on the demo desk, JSON, and input errors.

Each tests/golden/explain/NAME.args holds the command's arguments (run from
the repository's root) and NAME.expected what it prints. Set
ROTA_UPDATE_GOLDEN=1 to rewrite them from what rota does now.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import pytest

from rota.cli import main

ROOT = Path(__file__).parent.parent
GOLDEN = Path(__file__).parent / "golden" / "explain"
DEMO = "policies/demo"
REPLAY = [f"{DEMO}/desk.rota", "--snapshot", f"{DEMO}/snapshot", "--events", f"{DEMO}/events.jsonl"]


def explain(capsys, monkeypatch, arguments: list[str]) -> tuple[int, str, str]:
    monkeypatch.chdir(ROOT)
    status = main(["explain", *arguments])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize("case", sorted(GOLDEN.glob("*.args")), ids=lambda path: path.stem)
def test_the_text_matches_its_golden_file(case, capsys, monkeypatch):
    status, out, _ = explain(capsys, monkeypatch, shlex.split(case.read_text()))
    expected = case.with_suffix(".expected")
    if os.environ.get("ROTA_UPDATE_GOLDEN"):
        expected.write_text(out)
    assert status == 0
    assert out == expected.read_text()


def test_json_holds_what_the_text_says(capsys, monkeypatch):
    status, out, _ = explain(capsys, monkeypatch, [*REPLAY, "--seq", "26", "--user", "u03", "--format", "json"])
    answer = json.loads(out)
    assert status == 0
    assert answer["decision"]["outcome"] == "queued"
    assert [step["dropped"] for step in answer["filters"]] == [2, 2]
    assert answer["user"] == {
        "user": "u03",
        "verdict": "filtered",
        "says": "`only open < 5` dropped u03: open is 5",
        "only": "only open < 5",
        "values": {"open": 5},
    }


def test_a_contact_and_its_nth_decision_is_the_same_as_its_seq(capsys, monkeypatch):
    _, by_contact, _ = explain(capsys, monkeypatch, [*REPLAY, "--contact", "c028", "--nth", "3"])
    _, by_seq, _ = explain(capsys, monkeypatch, [*REPLAY, "--seq", "35"])
    assert by_contact == by_seq and by_seq.startswith("decision 35 ")


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        ([*REPLAY, "--seq", "500"], "--seq 500: the replay makes decisions 0 to 68"),
        (
            [*REPLAY, "--contact", "c028", "--nth", "9"],
            "--nth 9: contact c028 has 3 decisions in the replay, counted from 1",
        ),
        ([*REPLAY, "--contact", "nobody"], "--contact nobody: the replay makes no decision for that contact"),
        (REPLAY, "with --events, give the decision as --seq N or as --contact C (with --nth K)"),
        (["--url", "http://127.0.0.1:9", "--seq", "1", "--snapshot", "x"], "with --url, the service knows the policy"),
        (["--events", "x.jsonl", "--seq", "1"], "give the POLICY and --snapshot DIR"),
    ],
)
def test_a_bad_question_is_one_line_and_exit_2(arguments, said, capsys, monkeypatch):
    status, out, err = explain(capsys, monkeypatch, arguments)
    assert status == 2 and out == ""
    assert err.startswith("rota: error: ") and said in err and err.count("\n") == 1
