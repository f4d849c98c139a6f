"""A policy may be a folder: its `.rota` files, in name order, are one policy, and every diagnostic
names the real file and line. `check`, `fmt`, `batch`, `replay`, `verify`, `simulate` and `serve` take it."""

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_language_properties import policies

from rota.cli import main
from rota.dsl import PolicyError, PolicySource, analyze, format_policy, load_policy, parse
from rota.dsl.sources import as_one_file
from rota.engine import DurableEngine, compile_policy

DEMO = Path(__file__).parent.parent / "policies" / "demo"
TOKEN = "folder-test-token-0123"
VIP = """\
timezone "Europe/Berlin"

route vip when "vip" in contact.tags {
  assign to team "VIP Desk"
  timeout 30m -> general
}
"""
GENERAL = """\
# everyone else
route general {
  assign to space
}
"""


def run(capsys, *argv):
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def folder(directory: Path, **files: str) -> Path:
    """A policy folder; `a_b` names the file `a-b.rota`."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / f"{name.replace('_', '-')}.rota").write_text(text)
    return directory


def demo_split_in_two(directory: Path) -> Path:
    lines = (DEMO / "desk.rota").read_text().splitlines(keepends=True)
    return folder(directory, first="".join(lines[:16]), rest="".join(lines[16:]))


# ---------------------------------------------------------------- the language


def test_a_folder_is_its_files_routes_in_name_order_with_the_timezone_of_any_one():
    source = PolicySource.of_files("desk", {"desk/1.rota": GENERAL, "desk/2.rota": VIP})
    policy, diagnostics = analyze(source)
    assert diagnostics == [] and [route.name for route in policy.routes] == ["general", "vip"]
    assert policy.timezone == "Europe/Berlin" and policy.timezone_position.file == "desk/2.rota"
    assert [route.position.file for route in policy.routes] == ["desk/1.rota", "desk/2.rota"]


def test_diagnostics_name_the_real_file_and_line_in_every_file():
    source = PolicySource.of_files(
        "desk", {"desk/a.rota": VIP.replace("assign to team", "assign to tem"), "desk/b.rota": "route b {\n  usng\n}\n"}
    )
    diagnostics = analyze(source)[1]
    assert [(d.file, d.line, d.column) for d in diagnostics] == [("desk/a.rota", 4, 13), ("desk/b.rota", 2, 3)]


def test_a_route_name_defined_in_two_files_names_both_places():
    source = PolicySource.of_files("desk", {"desk/a.rota": VIP, "desk/b.rota": GENERAL + VIP.split("\n", 1)[1]})
    (duplicate,) = analyze(source)[1]
    assert (duplicate.file, duplicate.line, duplicate.column, duplicate.code.id) == ("desk/b.rota", 6, 7, "E301")
    assert duplicate.message == "route `vip` is defined twice (first at desk/a.rota:3)"


def test_a_second_timezone_in_a_folder_names_both_places_and_the_checks_go_on():
    source = PolicySource.of_files("desk", {"desk/a.rota": VIP, "desk/b.rota": 'timezone "UTC"\n' + GENERAL})
    diagnostics = analyze(source)[1]
    assert [(d.file, d.line, d.code.id) for d in diagnostics] == [("desk/b.rota", 1, "E104")]
    assert diagnostics[0].message == "`timezone` is given again (first at desk/a.rota:1)"
    without_general = PolicySource.of_files("desk", {"desk/a.rota": VIP, "desk/b.rota": 'timezone "UTC"\n'})
    assert "timeout branch `general` names no route" in [d.message for d in analyze(without_general)[1]]


@settings(max_examples=40, deadline=None)
@given(policies(), st.data())
def test_splitting_a_policy_into_files_keeps_its_meaning_and_version(policy, data):
    text = format_policy(policy)
    pieces = text.split("\n\nroute ")  # the timezone and each route, then put in files
    pieces = pieces[:1] + ["route " + piece for piece in pieces[1:]]
    cuts = sorted(data.draw(st.lists(st.integers(1, max(len(pieces) - 1, 1)), unique=True, max_size=3)))
    files = {
        f"p/{index}.rota": "\n\n".join(pieces[start:end])
        for index, (start, end) in enumerate(zip([0, *cuts], [*cuts, len(pieces)]))
    }
    one, _ = analyze(text)
    many, _ = analyze(PolicySource.of_files("p", files))
    if one is None:
        assert many is None
    else:
        assert many == one and compile_policy(many).version == compile_policy(one).version


def test_the_stored_form_keeps_the_files_apart_and_a_plain_text_is_one_file():
    source = PolicySource.of_files("desk", {"desk/a.rota": VIP, "desk/b.rota": GENERAL})
    assert PolicySource.decode(source.encode()) == source
    assert PolicySource.decode(VIP, "vip.rota") == PolicySource.of_text(VIP, "vip.rota")
    assert PolicySource.of_text(VIP, "vip.rota").encode() == VIP


# ---------------------------------------------------------------- the commands


def test_check_takes_folders_and_files_and_names_the_real_file(tmp_path, capsys):
    good = folder(tmp_path / "good", a=VIP, b=GENERAL)
    bad = folder(tmp_path / "bad", a=VIP, b="route general {\n  assign to space\n  usng least_open\n}\n")
    (bad / "notes.txt").write_text("not a policy")
    folder(bad / "old", c="this is not read")
    code, out, err = run(capsys, "check", good, bad, DEMO / "desk.rota")
    assert code == 1 and "checked 5 files: 1 error" in err
    assert out.splitlines()[0] == (
        f"{bad}/b.rota:3:3: error: unexpected name `usng`; "
        "expected `using`, `only`, `priority`, `timeout`, `reassign` or `}` [E101]"
    )
    assert out.splitlines()[1] == "    usng least_open"
    assert run(capsys, "check", good)[0] == 0


def test_check_a_folder_that_defines_a_route_twice(tmp_path, capsys):
    desk = folder(tmp_path / "desk", a=VIP, b=GENERAL + "\nroute vip {\n  unassign\n}\n")
    code, out, _ = run(capsys, "check", desk, "--format", "json")
    (found,) = json.loads(out)
    assert code == 1 and (found["file"], found["line"], found["code"]) == (f"{desk}/b.rota", 6, "E301")
    assert f"first at {desk}/a.rota:3" in found["message"]


def test_an_empty_folder_is_an_input_error_naming_it(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    for command in (["check"], ["fmt"], ["verify"]):
        code, _, err = run(capsys, *command, tmp_path / "empty")
        assert code == 2 and f"{tmp_path / 'empty'}: no .rota files in this folder" in " ".join(err.split())


def test_fmt_formats_each_file_of_a_folder_in_place(tmp_path, capsys):
    desk = folder(tmp_path / "desk", a=VIP, b="route general { assign to space only online } # all\n")
    code, _, err = run(capsys, "fmt", desk, "--check")
    assert code == 1 and err.split() == ["would", "reformat", f"{desk}/b.rota"]
    assert run(capsys, "fmt", desk)[0] == 0
    assert (desk / "a.rota").read_text() == VIP
    assert (desk / "b.rota").read_text() == "route general {\n  assign to space\n  only online\n}  # all\n"
    assert run(capsys, "fmt", desk, "--check")[0] == 0


def test_fmt_refuses_a_folder_with_errors_naming_the_file(tmp_path, capsys):
    desk = folder(tmp_path / "desk", a=VIP.replace("-> general", "-> nowhere"), b=GENERAL)
    code, out, _ = run(capsys, "fmt", desk)
    assert code == 1 and out.startswith(f"{desk}/a.rota:5:")
    assert (desk / "a.rota").read_text() == VIP.replace("-> general", "-> nowhere")


def test_batch_and_replay_of_a_folder_give_what_the_one_file_gives(tmp_path, capsys):
    desk = demo_split_in_two(tmp_path / "desk")
    common = ["--snapshot", DEMO / "snapshot", "--contacts", DEMO / "contacts.jsonl", "--now", "2026-11-25T10:00:00Z"]
    assert run(capsys, "batch", desk, *common, "--out", tmp_path / "folder.csv")[0] == 0
    assert run(capsys, "batch", DEMO / "desk.rota", *common, "--out", tmp_path / "file.csv")[0] == 0
    assert (tmp_path / "folder.csv").read_text() == (tmp_path / "file.csv").read_text()
    events = ["--snapshot", DEMO / "snapshot", "--events", DEMO / "events.jsonl"]
    assert run(capsys, "replay", desk, *events, "--out", tmp_path / "f.jsonl", "--db", tmp_path / "e.duckdb")[0] == 0
    assert run(capsys, "replay", DEMO / "desk.rota", *events, "--out", tmp_path / "one.jsonl")[0] == 0
    assert (tmp_path / "f.jsonl").read_text() == (tmp_path / "one.jsonl").read_text()


def test_batch_reports_errors_at_the_real_file(tmp_path, capsys):
    desk = folder(tmp_path / "desk", a=VIP, b=GENERAL.replace("assign to space", 'assign to team "Nobody"\n  usng x'))
    common = ["--snapshot", DEMO / "snapshot", "--contacts", DEMO / "contacts.jsonl", "--out", tmp_path / "o.csv"]
    code, out, _ = run(capsys, "batch", desk, *common)
    assert code == 1 and out.startswith(f"{desk}/b.rota:4:3: error: unexpected name `usng`")


def test_simulate_takes_a_folder(tmp_path, capsys):
    desk = demo_split_in_two(tmp_path / "desk")
    report = tmp_path / "desk.html"
    argv = ["simulate", desk, "--snapshot", DEMO / "snapshot", "--hours", "1", "--arrivals", "10", "--report", report]
    code, _, err = run(capsys, *argv)
    assert code == 0 and report.is_file() and "rota simulate: desk" in report.read_text()


def test_verify_names_the_route_s_own_file(tmp_path, capsys):
    desk = folder(tmp_path / "desk", a=GENERAL, b="route late {\n  unassign\n}\n")
    code, out, _ = run(capsys, "verify", desk, "--examples", "5", "--failures", tmp_path / "failures")
    assert code == 1 and f"{desk}/b.rota:1:1: route `late` can never be chosen" in out


def serve(monkeypatch, tmp_path, policy, db):
    """`rota serve` in process: instead of listening, the app answers GET /v1/policy."""
    answers = []

    async def ask(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rota") as client:
            answers.append((await client.get("/v1/policy", headers={"Authorization": f"Bearer {TOKEN}"})).json())

    def listen(server, sockets=None):
        asyncio.run(ask(server.config.app))

    (tmp_path / "token").write_text(TOKEN)
    monkeypatch.setattr("uvicorn.Server.run", listen)
    code = main(
        ["serve", "--db", str(db), "--policy", str(policy), "--token-file", str(tmp_path / "token"), "--port", "0"]
    )
    return code, answers


def test_serve_loads_a_folder_and_keeps_its_files_apart_in_the_engine_file(tmp_path, capsys, monkeypatch):
    desk = folder(tmp_path / "desk", a=VIP, b=GENERAL)
    code, (answer,) = serve(monkeypatch, tmp_path, desk, tmp_path / "engine.duckdb")
    assert code == 0
    assert answer["files"] == [{"file": f"{desk}/a.rota", "text": VIP}, {"file": f"{desk}/b.rota", "text": GENERAL}]
    assert answer["text"] == VIP + "\n" + GENERAL
    assert answer["version"] == compile_policy(load_policy(VIP + GENERAL)).version
    reopened = DurableEngine.open(tmp_path / "engine.duckdb")  # the policy as stored
    assert reopened.policy_source.texts == {f"{desk}/a.rota": VIP, f"{desk}/b.rota": GENERAL}
    assert [route.name for route in reopened.policy.routes] == ["vip", "general"]
    stored = reopened.policy_text
    with pytest.raises(PolicyError) as refused:  # a stored folder still names its files when it no longer compiles
        load_policy(PolicySource.decode(stored.replace("timeout 30m", "timeout 30")))
    assert str(refused.value).startswith(f"{desk}/a.rota:5:11: error: unexpected number `30`")


def test_serve_reports_a_folder_s_errors_at_the_real_file_and_line(tmp_path, capsys, monkeypatch):
    desk = folder(tmp_path / "desk", a=VIP, b=GENERAL.replace("assign to space", "assign to space\n  usng x"))
    code, answers = serve(monkeypatch, tmp_path, desk, tmp_path / "engine.duckdb")
    out = capsys.readouterr().out
    assert (code, answers) == (1, []) and out.startswith(f"{desk}/b.rota:4:3: error: unexpected name `usng`")


def test_one_file_parses_as_before_with_its_comments():
    assert PolicySource.of_text(GENERAL, "g.rota").is_one_file
    assert analyze(PolicySource.of_text(GENERAL, "g.rota"))[0].comments == parse(GENERAL, "g.rota").policy.comments


def test_a_folder_written_as_one_file_means_the_same():
    source = PolicySource.of_files("desk", {"desk/a.rota": GENERAL, "desk/b.rota": VIP})
    policy = load_policy(source)
    one = as_one_file(source, policy)
    assert one.startswith('timezone "Europe/Berlin"') and load_policy(one) == policy
    assert as_one_file(PolicySource.of_text(GENERAL, "g.rota"), load_policy(GENERAL)) == GENERAL
