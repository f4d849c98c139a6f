"""Drains over contacts with released users (SPEC 4.1) place exactly what a scan of the queue places.

The queue's eligibility classes leave the released users out of their key: a
contact that only users it was released from would take is set aside, and put
back when a user it was not released from may take it (engine/queue.py). On
random runs with a pool of three users, caps of one or two contacts and short
release timers, so that contacts come back to the queue released from the only
users who could take them, the engine's decisions and final queue must be those
of an engine whose drain tries every queued contact in queue order, and the run
must hold every property of rota.testing's model. The same holds under the routes
with a filter that reads the contact (a class per language), where whether a user
that changed may take a class's contacts depends on the class's contact fields.
"""

from datetime import datetime, timedelta

from engine_variants import ScanningDrainEngine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rota.dsl import load_policy
from rota.engine import Event, compile_policy
from rota.testing import Snapshot, UserRecord, check_run, run_engine
from rota.vocabulary import EventType, Status

START = datetime(2026, 11, 25, 9, 0)
USERS = ("u1", "u2", "u3")
CONTACTS = tuple(f"c{number}" for number in range(1, 7))
STATUSES = (Status.ONLINE.value, Status.ONLINE.value, Status.AWAY.value, Status.OFFLINE.value)
GAPS = (0, 20, 60, 90, 300)  # seconds: around the release timers', so releases and events interleave
# Two classes of each route (VIP or not): contacts of one class ahead of the other's in the queue.
POLICY_TEXT = """
route vip when "vip" in contact.tags {
  assign to team "VIP"
  using least_open
  only online
  only open < 1
  priority 5
  timeout 10m -> desk
  reassign when unanswered 1m
}

route desk {
  assign to space
  only online
  only open < 2
  timeout 1h
  reassign when unanswered 2m
  reassign when away 1m -> vip
}
"""
POLICY = compile_policy(load_policy(POLICY_TEXT))
SNAPSHOT = Snapshot(tuple(UserRecord(user, Status.ONLINE.value) for user in USERS), (("VIP", "u1"), ("VIP", "u2")))
# The same routes with a filter that reads the contact: a class per language, and whether a user that
# changed may take a class's contacts depends on them.
LANGUAGES = ("en", "es")
BY_LANGUAGE = compile_policy(
    load_policy(POLICY_TEXT.replace("  only online\n", "  only online\n  only contact.language in user.languages\n"))
)
SPEAKING = Snapshot(
    tuple(
        UserRecord(user, Status.ONLINE.value, attributes={"languages": list(LANGUAGES[: 1 + index % 2])})
        for index, user in enumerate(USERS)
    ),
    SNAPSHOT.memberships,
)


def event(kind: str, contact: str, user: str, status: str, vip: bool, language: str = LANGUAGES[0]) -> dict:
    """An event's fields, of those drawn the ones its kind takes."""
    if kind == EventType.ROUTE.value:
        return {"type": kind, "contact": contact, "attrs": {"tags": ["vip"] if vip else [], "language": language}}
    if kind == EventType.CLOSE.value:
        return {"type": kind, "contact": contact}
    if kind == EventType.REPLY.value:
        return {"type": kind, "contact": contact, "user": user}
    return {"type": kind, "user": user, "status": status}


KINDS = (EventType.ROUTE.value,) * 3 + (EventType.STATUS.value,) * 3 + (EventType.CLOSE.value, EventType.REPLY.value)
STEPS = st.lists(
    st.tuples(
        st.sampled_from(GAPS),
        st.builds(
            event,
            st.sampled_from(KINDS),
            st.sampled_from(CONTACTS),
            st.sampled_from(USERS),
            st.sampled_from(STATUSES),
            st.booleans(),
            st.sampled_from(LANGUAGES),
        ),
    ),
    max_size=40,
)


def timed(steps: list[tuple[int, dict]]) -> list[Event]:
    events, moment = [], START
    for gap, fields in steps:
        moment += timedelta(seconds=gap)
        events.append(Event(at=moment, **fields))
    return events


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=STEPS, by_language=st.booleans())
def test_drains_with_released_users_place_what_a_scan_of_the_queue_places(steps, by_language):
    events = timed(steps)
    until = (events[-1].at if events else START) + timedelta(minutes=15)
    policy, snapshot = (BY_LANGUAGE, SPEAKING) if by_language else (POLICY, SNAPSHOT)
    run = run_engine(policy, snapshot, events, until)
    scanned = run_engine(policy, snapshot, events, until, ScanningDrainEngine)
    assert run.decisions == scanned.decisions
    assert run.final == scanned.final
    check_run(run)
