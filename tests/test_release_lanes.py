"""The release timers' lanes (engine/releases.py) against a scan of every running timer.

A lane per duration keeps its running timers in firing order without a heap; the straightforward
path looks at every timer the contacts hold and takes the smallest (due, order). Random assignments,
replies, clears and presence changes, at instants that mostly move forward and sometimes go back
(as a caller's clock may), with timers read back from their fields as a file would: both give the
same next timer at every step.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from rota.dsl import load_policy
from rota.engine import compile_policy
from rota.engine.releases import Releases, ReleaseTimer

START = datetime(2026, 11, 23, 8, 0)
POLICY = """\
route short when contact.short == true {
  assign to space
  reassign when unanswered 1m
  reassign when away 2m
}

route long {
  assign to space
  reassign when unanswered 2m
  reassign when away 5m
}
"""
ROUTES = compile_policy(load_policy(POLICY)).routes
CONTACTS = [f"c{index}" for index in range(6)]
USERS = ["u0", "u1", "u2"]

STEP = st.one_of(
    st.tuples(
        st.just("set"),
        st.sampled_from(CONTACTS),
        st.sampled_from(range(len(ROUTES))),
        st.sampled_from(USERS),
        st.booleans(),
    ),
    st.tuples(st.just("reply"), st.sampled_from(CONTACTS), st.sampled_from(USERS)),
    st.tuples(st.just("clear"), st.sampled_from(CONTACTS)),
    st.tuples(st.just("presence"), st.sampled_from(USERS), st.booleans()),
    st.tuples(
        st.just("restore"),
    ),
)
STEPS = st.lists(st.tuples(st.integers(-30, 90), STEP), max_size=60)


def scanned_first_due(releases: Releases, until: datetime, inclusive: bool) -> tuple[datetime, ReleaseTimer] | None:
    """The plain path: every running timer of every contact, the smallest (due, order) due by `until`."""
    running = [
        (timer.due, timer.order, timer)
        for timers in releases.timers.values()
        for timer in timers.values()
        if timer.due is not None and (timer.due < until or (inclusive and timer.due == until))
    ]
    if not running:
        return None
    due, _, timer = min(running, key=lambda entry: entry[:2])
    return due, timer


def read_back(releases: Releases) -> Releases:
    """The timers as a file gives them back: copied from their fields, in no particular order."""
    restored = Releases(next_order=releases.next_order)
    for contact in sorted(releases.timers, reverse=True):
        for timer in releases.timers[contact].values():
            restored.restore(ReleaseTimer(*(getattr(timer, name) for name in ReleaseTimer.__slots__)))
    return restored


@settings(max_examples=300, deadline=None)
@given(steps=STEPS, inclusive=st.booleans())
def test_the_lanes_give_the_timer_a_scan_of_all_running_timers_gives(steps, inclusive):
    releases = Releases()
    now = START
    for seconds, step in steps:
        now += timedelta(seconds=seconds)
        kind = step[0]
        if kind == "set":
            _, contact, route, user, online = step
            releases.set(contact, ROUTES[route], user, online, now)
        elif kind == "reply":
            releases.replied(step[1], step[2])
        elif kind == "clear":
            releases.clear(step[1])
        elif kind == "presence":
            releases.presence_changed(step[1], step[2], now)
        else:
            releases = read_back(releases)
        for until in (now, now + timedelta(minutes=3)):
            assert releases.first_due(until, inclusive) == scanned_first_due(releases, until, inclusive)
