"""The live engine's fast candidate sets choose exactly what a scan of the pool chooses.

`Router.pick` keeps the candidates of routes whose per-pick filters are caps
on `open` up to date from the roster's change logs; after every event of a
random run it must agree with `choose` over `candidates` (the straightforward
path), user and count, for every team and space route.
"""

from contextlib import contextmanager
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import NOW, TEAMS, USER_IDS, policies, roster_of, snapshots

import rota.engine.roster as roster_module
from rota.engine import Contact, Engine, Event, compile_policy
from rota.engine.roster import Change, Journal

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CONTACT_IDS = [f"c{index}" for index in range(6)]


@st.composite
def events(draw):
    kind = draw(
        st.sampled_from(
            ["route", "route", "route", "close", "close", "status", "join", "leave", "user", "delete", "wait"]
        )
    )
    user = draw(st.sampled_from(USER_IDS + ["new"]))
    if kind == "route":
        return dict(
            type="route",
            contact=draw(st.sampled_from(CONTACT_IDS)),
            attrs={
                "tags": draw(st.sampled_from([[], ["vip"]])),
                "language": draw(st.sampled_from([None, "es", "en"])),
                "tier": draw(st.sampled_from([None, 1, 3])),
                "last_agent": draw(st.sampled_from([None, user])),
                "assignee": draw(st.sampled_from([None, user])),
            },
        )
    if kind == "close":
        return dict(type="close", contact=draw(st.sampled_from(CONTACT_IDS)))
    if kind == "status":
        return dict(type="status", user=user, status=draw(st.sampled_from(["online", "away", "offline"])))
    if kind in ("join", "leave"):
        return dict(type=kind, user=user, team=draw(st.sampled_from(TEAMS)))
    if kind == "user":
        return dict(
            type="user",
            user=user,
            attrs={
                "status": draw(st.sampled_from(["online", "away"])),
                "skills": draw(st.sampled_from([[], ["billing"]])),
            },
        )
    if kind == "delete":
        return dict(type="delete", user=user)
    return dict(type="wait", minutes=draw(st.sampled_from([1, 20, 90])))


def assert_fast_equals_scan(engine: Engine, now) -> None:
    router = engine.router
    probe = Contact("probe", None, {"language": "es", "tier": 2, "tags": []})
    for route in engine.policy.routes:
        if route.kind not in ("team", "space"):
            continue
        candidates = router.candidates(route, probe, now)
        expected = (router.choose(route, candidates) if candidates else None), len(candidates)
        assert router.pick(route, probe, now) == expected, route.name


@contextmanager
def change_logs_keeping(count: int):
    """Change logs that drop old ids early, so candidate sets that fall behind rebuild."""
    kept = roster_module.KEPT_CHANGES
    roster_module.KEPT_CHANGES = count
    try:
        yield
    finally:
        roster_module.KEPT_CHANGES = kept


@SETTINGS
@given(
    snapshot=snapshots(),
    policy=policies(),
    steps=st.lists(events(), max_size=40),
    kept_changes=st.sampled_from([2, 65_536]),
)
def test_fast_candidates_choose_what_a_scan_chooses(snapshot, policy, steps, kept_changes):
    with change_logs_keeping(kept_changes):
        engine = Engine(compile_policy(policy), roster_of(*snapshot))
        now = NOW
        assert_fast_equals_scan(engine, now)
        for step in steps:
            if step["type"] == "wait":
                now += timedelta(minutes=step["minutes"])
                engine.advance(now, inclusive=False)
            else:
                engine.handle(Event(at=now, **step))
            assert_fast_equals_scan(engine, now)


def test_the_journal_keeps_only_recent_entries(monkeypatch):
    monkeypatch.setattr(roster_module, "KEPT_CHANGES", 2)
    journal = Journal()
    for user_id in "abcde":
        journal.record(Change.PROFILE, user_id)
    assert journal.end == 5
    assert journal.since(0) is None
    assert journal.since(journal.start) == journal.entries
    assert journal.since(4) == [(Change.PROFILE, "e")]
    assert journal.since(5) == []
