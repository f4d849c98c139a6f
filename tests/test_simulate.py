"""`rota simulate`: the model is deterministic, loses nothing, fires timeouts on time; the measures are
the documented ones; the report is one self-contained HTML file; the command's exit codes."""

import json
import math
import random
import re
import warnings
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from test_spec_5_cli import run as cli

from rota import compile_policy_file, load_roster, load_snapshot
from rota.engine import snapshot_schema
from rota.simulate import SimulationSettings, simulate
from rota.simulate.contacts import attribute_values
from rota.simulate.measures import (
    CONTACT_ENDINGS,
    WAITING_AT_END,
    counted_agents,
    gini,
    max_min_ratio,
    measure,
)
from rota.simulate.report import render_html, settings_text
from rota.waits import percentile

POLICIES = Path(__file__).parent.parent / "policies"
SNAPSHOT = POLICIES / "demo" / "snapshot"


def run_policy(path: Path, **settings):
    snapshot = load_snapshot(SNAPSHOT)
    policy = compile_policy_file(path, snapshot_schema(snapshot.connection))
    return simulate(policy, load_roster(snapshot.connection), SimulationSettings(**settings))


def rows(run):
    return [decision.row() for decision in run.decisions]


# ------------------------------------------------------------------ measures


def gini_by_definition(counts):
    """G = sum_i sum_j |x_i - x_j| / (2 n^2 mean), straight from the README."""
    n, mean = len(counts), sum(counts) / len(counts)
    return sum(abs(a - b) for a in counts for b in counts) / (2 * n * n * mean)


def test_gini_of_hand_computed_populations():
    assert gini([1, 1, 1, 1]) == 0
    assert gini([0, 0, 0, 4]) == pytest.approx(0.75)  # 3 zeros vs 4, both orders: 24 / (2 * 16 * 1)
    assert gini([3, 1, 2]) == pytest.approx(8 / 36)  # |1-2|+|1-3|+|2-3| = 4, both orders 8; 2 * 9 * mean 2
    assert gini([]) == 0 and gini([0, 0]) == 0


def test_gini_matches_its_definition_on_random_populations():
    generator = random.Random(7)
    for _ in range(200):
        counts = [generator.randrange(0, 30) for _ in range(generator.randrange(1, 12))]
        if sum(counts):
            assert gini(counts) == pytest.approx(gini_by_definition(counts))


def test_max_min_ratio():
    assert max_min_ratio([2, 8, 4]) == 4
    assert max_min_ratio([5, 5]) == 1
    assert math.isinf(max_min_ratio([0, 3]))
    assert max_min_ratio([0, 0]) == 1 and max_min_ratio([]) == 1


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 11)]
    assert (percentile(values, 50), percentile(values, 90), percentile(values, 100)) == (5, 9, 10)
    assert percentile([7.0], 90) == 7
    assert math.isnan(percentile([], 50))


# --------------------------------------------------------------------- model


def test_the_same_seed_gives_the_same_run_and_another_seed_another():
    first = run_policy(POLICIES / "escalation.rota", hours=3, seed=5)
    again = run_policy(POLICIES / "escalation.rota", hours=3, seed=5)
    other = run_policy(POLICIES / "escalation.rota", hours=3, seed=6)
    assert rows(first) == rows(again) and first.samples == again.samples
    assert measure(first) == measure(again)
    assert rows(first) != rows(other)


@pytest.mark.parametrize("name, arrivals", [("escalation.rota", 60), ("demo/desk.rota", 150), ("returning.rota", 60)])
def test_nothing_is_lost(name, arrivals):
    """Every arrived contact ends in exactly one place, and the log agrees with the engine."""
    run = run_policy(POLICIES / name, hours=4, arrivals_per_hour=arrivals)
    measures = measure(run)
    assert sum(measures.endings.values()) == measures.arrived == len(run.arrivals) > 100
    assert set(measures.endings) <= set(CONTACT_ENDINGS)
    last = {decision.contact: decision for decision in run.decisions}
    assert set(run.arrivals) <= set(last)  # every arrival got a decision
    waiting = {contact for contact in run.arrivals if last[contact].outcome == "queued"}
    assert waiting == set(run.still_queued) and measures.endings[WAITING_AT_END] == len(waiting)
    assigned = {d.contact for d in run.decisions if d.outcome == "assigned"}
    assert set(run.closed) <= assigned  # only handled contacts close
    assert len(measures.time_to_assignment) == len(assigned & set(run.arrivals))


def test_timeouts_fire_on_time_and_waits_never_exceed_the_route_timeout():
    run = run_policy(POLICIES / "escalation.rota", hours=4)
    deadline_of = {}
    timed_out = 0
    for decision in run.decisions:
        if decision.outcome == "queued":
            deadline_of[decision.contact] = decision.deadline
        elif decision.outcome == "timed_out":
            timed_out += 1
            assert decision.at == deadline_of[decision.contact]
    assert timed_out > 10
    measures = measure(run)
    for route, waits in measures.queue_waits.items():
        assert max(waits) <= run.policy.route_named(route).route.timeout_seconds
    assert (
        measures.branches[("tier1", "tier2", "queued")] + measures.branches[("tier1", "tier2", "assigned")]
        == measures.timeouts["tier1"]
        > 0
    )


NOBODY_ELIGIBLE = "route waiting {\n  assign to space\n  only open < 0\n  timeout 10m%s\n}\n"


@pytest.mark.parametrize(
    "branch, outcome, ending", [(" -> unassign", "unassigned", "unassigned"), ("", "failed", "failed")]
)
def test_timeouts_without_a_branch_route_end_the_contact_there(tmp_path, branch, outcome, ending):
    policy = tmp_path / "waiting.rota"
    policy.write_text(NOBODY_ELIGIBLE % branch)
    run = run_policy(policy, hours=2, arrivals_per_hour=30)
    measures = measure(run)
    timed_out = measures.timeouts["waiting"]
    assert timed_out == measures.branches[("waiting", "unassign" if branch else "no branch", outcome)] > 20
    assert measures.endings[ending] == timed_out == measures.route_fates["waiting"]["timed out"]
    assert timed_out + measures.endings[WAITING_AT_END] == measures.arrived
    assert sum(measures.route_fates["waiting"].values()) == measures.arrived  # a branch is not a new entry


def test_with_no_arrivals_the_snapshot_backlog_closes_and_nothing_is_decided():
    run = run_policy(POLICIES / "vip_desk.rota", hours=8, arrivals_per_hour=0)
    assert run.decisions == [] and run.arrivals == []
    opening = {user: series[0] for user, series in run.samples.open_by_user.items()}
    assert opening["u21"] == 7 and len(run.samples.times) == 8 * 12 + 1
    assert all(series[-1] == 0 for series in run.samples.open_by_user.values())


def test_presence_takes_breaks_and_starts_shifts():
    run = run_policy(POLICIES / "vip_desk.rota", hours=8)
    statuses_at_start = {"u02": "offline", "u08": "away"}
    assert set(statuses_at_start) <= run.online_at_some_point
    assert "u07" not in run.online_at_some_point  # deleted: never changes


def test_contacts_reach_the_conditional_routes():
    run = run_policy(POLICIES / "demo" / "desk.rota", hours=4)
    routes = Counter(decision.route for decision in run.decisions)
    assert {"vip", "returning", "spanish", "general"} <= set(routes)
    snapshot = load_snapshot(SNAPSHOT)
    values = attribute_values(compile_policy_file(POLICIES / "by_language.rota"), load_roster(snapshot.connection))
    assert values["language"][0] is None and {"es", "fr", "en", "de", "pt"} <= set(values["language"][1:])


def test_fairness_counts_the_agents_of_routes_contacts_took():
    run = run_policy(POLICIES / "by_shift.rota", hours=4)  # 09:00-13:00 in Berlin on a Wednesday
    agents = counted_agents(run)
    assert not {"u22", "u23", "u24", "u25"} & set(agents)  # the night shift's route took no contact
    assigned = {d.user for d in run.decisions if d.outcome == "assigned"}
    day_shift = run.pools["business_hours"]
    expected = {
        user for user in day_shift if user in assigned or (user not in run.deleted and user in run.online_at_some_point)
    }
    assert set(agents) == expected and "u07" not in expected  # u07 is deleted
    assert len(expected) < len(day_shift)  # someone stayed offline the whole time
    measures = measure(run)
    counts = list(measures.assigned_by_agent.values())
    assert measures.gini == gini(counts) and measures.max_min_ratio == max_min_ratio(counts)
    assert sum(counts) == sum(1 for d in run.decisions if d.outcome == "assigned")


# -------------------------------------------------------------------- report


def test_the_html_report_is_self_contained_and_holds_the_plots():
    run = run_policy(POLICIES / "escalation.rota", hours=2)
    page = render_html(
        run, measure(run), "rota simulate: escalation.rota", settings_text(run, "escalation.rota", str(SNAPSHOT))
    )
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.IGNORECASE)
    assert "<script" not in page and "<link" not in page
    assert page.count("<svg") == 5
    for heading in (
        "At a glance",
        "Open contacts per agent over time",
        "Assigned per agent: Gini",
        "Queue waits per route",
        "What happened on each route",
        "Timeouts and their branches",
        "tier2: ",
    ):
        assert heading in page


# ----------------------------------------------------------------------- CLI


def test_cli_writes_the_report_and_the_png(tmp_path, capsys):
    report = tmp_path / "report.html"
    decisions = tmp_path / "decisions.jsonl"
    code, _, err = cli(
        capsys,
        "simulate",
        POLICIES / "vip_desk.rota",
        "--snapshot",
        SNAPSHOT,
        "--hours",
        "2",
        "--arrivals",
        "40",
        "--report",
        report,
        "--out",
        decisions,
    )
    assert code == 0
    rows = [json.loads(line) for line in decisions.read_text().splitlines()]
    assert len(rows) > 40 and set(rows[0]) == {"at", "contact", "route", "outcome", "user", "reason", "deadline"}
    assert rows == sorted(rows, key=lambda row: row["at"])  # in the order taken, which is time order
    assert report.read_text().startswith("<!DOCTYPE html>")
    assert (tmp_path / "report.png").read_bytes().startswith(b"\x89PNG")
    assert "fairness" in err and f"wrote {report}" in " ".join(err.split())


def test_a_report_with_nothing_to_show_draws_without_warnings(tmp_path, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code, _, err = cli(
            capsys,
            "simulate",
            POLICIES / "vip_desk.rota",
            "--snapshot",
            SNAPSHOT,
            "--hours",
            "1",
            "--arrivals",
            "0",
            "--report",
            tmp_path / "empty.html",
        )
    assert code == 0 and "0 contacts" in err
    assert "no contact took a route" in (tmp_path / "empty.html").read_text()


def test_cli_policy_errors_exit_1_with_diagnostics(tmp_path, capsys):
    policy = tmp_path / "bad.rota"
    policy.write_text("route r {\n  assign to space\n  usng least_open\n}\n")
    code, out, _ = cli(capsys, "simulate", policy, "--snapshot", SNAPSHOT, "--report", tmp_path / "r.html")
    assert code == 1 and f"{policy}:3:3: error:" in out
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--hours", "0"], "--hours must be above 0"),
        (["--hours", "nan"], "--hours must be above 0"),
        (["--arrivals", "-1"], "--arrivals must be above 0"),
        (["--handle-minutes", "0"], "--handle-minutes must be above 0"),
        (["--arrivals", "100000", "--hours", "24"], "at most 500,000"),
        (["--start", "tomorrow"], "--start 'tomorrow' is not an ISO 8601 time (e.g. 2026-11-25T10:00:00Z)"),
        (["--report", "/nonexistent/dir/r.html"], "no such directory"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(tmp_path, capsys, arguments, message):
    argv = ["simulate", POLICIES / "vip_desk.rota", "--snapshot", SNAPSHOT, "--report", tmp_path / "r.html"]
    code, _, err = cli(capsys, *argv, *arguments)
    one_line = " ".join(err.split())  # rich wraps long lines at the console's width
    assert code == 2 and message in one_line and err.count("rota: error:") == 1 and "Traceback" not in err


def test_cli_missing_policy_or_snapshot_exits_2(tmp_path, capsys):
    code, _, err = cli(
        capsys, "simulate", tmp_path / "none.rota", "--snapshot", SNAPSHOT, "--report", tmp_path / "r.html"
    )
    assert code == 2 and "none.rota: no such policy" in " ".join(err.split())
    code, _, err = cli(
        capsys, "simulate", POLICIES / "vip_desk.rota", "--snapshot", tmp_path / "none", "--report", tmp_path / "r.html"
    )
    assert code == 2 and "none: no such snapshot directory" in " ".join(err.split())


def test_settings_end_is_start_plus_hours():
    settings = SimulationSettings(hours=1.5)
    assert settings.end - settings.start == timedelta(minutes=90)
