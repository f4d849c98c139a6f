"""`rota simulate` and SPEC 4.1: agents who go away mid-shift and reply late, the `status` and `reply`
events the desk sends for them, the releases they cause, and the baseline without `reassign`."""

import random
import statistics
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import pytest
from test_spec_5_cli import run as cli

from rota import compile_policy_file, load_roster, load_snapshot
from rota.engine import snapshot_schema
from rota.simulate import SimulationSettings, simulate
from rota.simulate.desk import lognormal, without_reassign
from rota.simulate.measures import measure
from rota.simulate.report import simulate_file

POLICIES = Path(__file__).parent.parent / "policies"
SNAPSHOT = POLICIES / "demo" / "snapshot"

STICKY_THEN_GENERAL = """\
route sticky when contact.last_agent != null {
  assign to user contact.last_agent
  reassign when away 2m -> general
}

route general {
  assign to team "General"
  using least_open
  only online
  reassign when away 2m
  reassign when unanswered 5m
}
"""


def compiled(tmp_path, text: str = STICKY_THEN_GENERAL):
    path = tmp_path / "desk.rota"
    path.write_text(text)
    return path, compile_policy_file(path, snapshot_schema(load_snapshot(SNAPSHOT).connection))


def run_desk(policy, **settings):
    return simulate(policy, load_roster(load_snapshot(SNAPSHOT).connection), SimulationSettings(**settings))


def events_of(run, kind: str) -> list:
    return [event for event in run.events if event.type == kind]


@pytest.mark.parametrize("mean, spread", [(3.0, 2.0), (45.0, 30.0), (10.0, 0.5)])
def test_lognormal_draws_have_the_mean_and_spread_asked_for(mean, spread):
    draws = [lognormal(random.Random(seed), mean, spread) for seed in range(20_000)]
    assert statistics.fmean(draws) == pytest.approx(mean, rel=0.03)
    assert statistics.pstdev(draws) == pytest.approx(spread, rel=0.08)
    assert min(draws) > 0
    assert lognormal(random.Random(1), mean, 0) == mean  # no spread: always the mean


def test_the_assignee_replies_reply_minutes_after_each_assignment_or_once_back_online(tmp_path):
    _, policy = compiled(tmp_path)
    run = run_desk(policy, hours=3, reply_minutes=4, reply_spread=0)
    assignments = defaultdict(list)  # (contact, user) -> assignment instants
    for decision in run.decisions:
        if decision.outcome == "assigned":
            assignments[(decision.contact, decision.user)].append(decision.at)
    back_online = {(event.user, event.at) for event in events_of(run, "status") if event.status == "online"}
    replies = events_of(run, "reply")
    assert len(replies) > 100
    for reply in replies:
        assigned_at = assignments[(reply.contact, reply.user)]
        on_time = any(reply.at == at + timedelta(minutes=4) for at in assigned_at)
        late = any(reply.at > at + timedelta(minutes=4) for at in assigned_at) and (reply.user, reply.at) in back_online
        assert on_time or late, reply
    assert any((reply.user, reply.at) in back_online for reply in replies)  # some waited for their sender's return
    # With nobody ever away, every reply comes 4 minutes in, so nothing is released as unanswered after 5.
    steady = run_desk(policy, hours=3, reply_minutes=4, reply_spread=0, online_minutes=1e7, away_share=0)
    released = {d.reason for d in steady.decisions if d.outcome == "released"}
    assert events_of(steady, "reply") and released == {"away"}  # sticky contacts whose last agent is offline


def test_slow_replies_release_contacts_as_unanswered(tmp_path):
    _, policy = compiled(tmp_path)
    run = run_desk(policy, hours=3, reply_minutes=8, reply_spread=0)
    unanswered = [d for d in run.decisions if d.outcome == "released" and d.reason == "unanswered"]
    assert len(unanswered) > 20 and {d.route for d in unanswered} == {"general"}


def test_a_share_of_agents_goes_away_once_mid_shift_for_the_time_drawn(tmp_path):
    _, policy = compiled(tmp_path)
    # No breaks and no shift starts within the day: every `away` is a mid-shift absence.
    run = run_desk(policy, hours=8, online_minutes=1e7, shift_start_minutes=1e7, away_share=0.5, away_spread=0)
    statuses = events_of(run, "status")
    away = [event for event in statuses if event.status == "away"]
    present = [user for user in run.users if user not in run.deleted]
    assert 0 < len(away) <= round(0.5 * len(present))
    assert len({event.user for event in away}) == len(away)  # once each
    for event in away:
        back = [e for e in statuses if e.user == event.user and e.status == "online" and e.at > event.at]
        end = run.settings.end
        assert [e.at for e in back] == (
            [event.at + timedelta(minutes=45)] if event.at + timedelta(minutes=45) <= end else []
        )
    nobody = run_desk(policy, hours=8, online_minutes=1e7, shift_start_minutes=1e7, away_share=0)
    assert not [event for event in events_of(nobody, "status") if event.status == "away"]


def plain_absent_seconds(run, roster_statuses: dict[str, str]) -> dict[str, float]:
    """Straight from the log: each holding of a contact, overlapped with its holder's stretches not online."""
    end = run.settings.end
    stretches = defaultdict(list)  # user -> [start, stop) not online
    since = {user: run.settings.start for user, status in roster_statuses.items() if status != "online"}
    for event in events_of(run, "status"):
        if event.status == "online" and event.user in since:
            stretches[event.user].append((since.pop(event.user), event.at))
        elif event.status != "online" and event.user not in since:
            since[event.user] = event.at
    for user, start in since.items():
        stretches[user].append((start, end))
    holdings = []  # (contact, user, start, stop)
    holding = {}
    ends = [(d.at, d.contact) for d in run.decisions if d.outcome in ("released", "unassigned")]
    ends += [(event.at, event.contact) for event in events_of(run, "close")]
    starts = [(d.at, d.contact, d.user) for d in run.decisions if d.outcome == "assigned"]
    # Within an instant a release comes before the branch's assignment; a close ends what it finds.
    for at, kind, contact, user in sorted([(a, 0, c, None) for a, c in ends] + [(a, 1, c, u) for a, c, u in starts]):
        if contact in holding:
            holdings.append((contact, *holding.pop(contact), at))
        if kind == 1:
            holding[contact] = (user, at)
    holdings += [(contact, user, start, end) for contact, (user, start) in holding.items()]
    absent = defaultdict(float)
    for contact, user, start, stop in holdings:
        absent[contact] += 0.0
        for away_from, away_to in stretches[user]:
            overlap = (min(stop, away_to) - max(start, away_from)).total_seconds()
            absent[contact] += max(0.0, overlap)
    return {contact: absent[contact] for contact in run.arrivals if contact in absent}


@pytest.mark.parametrize("seed", [1, 2])
def test_time_with_an_absent_agent_is_what_the_log_adds_up_to(tmp_path, seed):
    _, policy = compiled(tmp_path)
    statuses = {user.id: user.status for user in load_roster(load_snapshot(SNAPSHOT).connection).users.values()}
    for desk in (policy, without_reassign(policy)):
        run = run_desk(desk, hours=4, seed=seed, away_share=0.4)
        assert sum(run.absent_seconds.values()) > 0
        assert run.absent_seconds == pytest.approx(plain_absent_seconds(run, statuses))


def test_reassign_when_away_bounds_the_time_with_an_absent_agent_and_the_baseline_sees_the_same_desk(tmp_path):
    _, policy = compiled(tmp_path)
    run = run_desk(policy, hours=6, away_share=0.4)
    baseline = run_desk(without_reassign(policy), hours=6, away_share=0.4)
    # The same arrivals and the same absences, whatever the policy did with them.
    assert events_of(run, "route") == events_of(baseline, "route")
    assert events_of(run, "status") == events_of(baseline, "status")
    assignments = defaultdict(int)
    for decision in run.decisions:
        assignments[decision.contact] += decision.outcome == "assigned"
    for contact, seconds in run.absent_seconds.items():
        assert seconds <= 120 * assignments[contact]  # each assignment is released 2 minutes into an absence
    assert max(baseline.absent_seconds.values()) > 120 * 3
    with_options, without = measure(run), measure(baseline)
    assert with_options.releases and not without.releases
    assert {reason for (_, reason) in with_options.releases} == {"away", "unanswered"}
    assert sum(with_options.absent_held) < sum(without.absent_held)


def test_the_report_shows_releases_by_reason_and_route_beside_the_baseline(tmp_path):
    path, _ = compiled(tmp_path)
    settings = SimulationSettings(hours=3)
    run, measures, baseline = simulate_file(path, str(SNAPSHOT), settings, tmp_path / "r.html", tmp_path / "r.png")
    assert baseline is not None and not baseline.releases and measures.releases
    page = (tmp_path / "r.html").read_text()
    assert "<h2>Reassignment</h2>" in page
    general = measures.releases[("general", "unanswered")], measures.releases[("general", "away")]
    row = "<tr><td>general</td>" + "".join(f"<td>{count:,}</td>" for count in (*general, sum(general))) + "</tr>"
    assert row in page
    assert "<th>with reassign</th><th>without</th>" in page
    plain = tmp_path / "plain.rota"
    plain.write_text(
        STICKY_THEN_GENERAL.replace("  reassign when away 2m -> general\n", "").replace(
            "  reassign when away 2m\n  reassign when unanswered 5m\n", ""
        )
    )
    _, _, none = simulate_file(plain, str(SNAPSHOT), settings, tmp_path / "p.html", tmp_path / "p.png")
    assert none is None and "Reassignment" not in (tmp_path / "p.html").read_text()


def test_cli_prints_the_comparison_and_refuses_bad_shares(tmp_path, capsys):
    path, _ = compiled(tmp_path)
    code, out, err = cli(
        capsys,
        "simulate",
        path,
        "--snapshot",
        SNAPSHOT,
        "--hours",
        "2",
        "--reply-minutes",
        "6",
        "--report",
        tmp_path / "r.html",
    )
    assert code == 0, err
    assert any(line.startswith("contacts that sat with an absent agent") for line in err.splitlines()), err
    for option, value, message in [
        ("--away-share", "1.5", "--away-share must be from 0 to 1, got 1.5"),
        ("--reply-spread", "-1", "--reply-spread must be from 0 to 10,080, got -1"),
    ]:
        code, out, err = cli(
            capsys, "simulate", path, "--snapshot", SNAPSHOT, option, value, "--report", tmp_path / "r.html"
        )
        assert code == 2 and message in err, err
