"""SPEC 4: the queue and timeouts, each rule shown by a small scenario."""

from routing_helpers import at, engine, event, rows

QUEUEING = """\
route vip when "vip" in tags {
  assign to team "VIP"
  only online
  priority 10
  timeout 30m -> general
}

route general {
  assign to space
  only online
  timeout 1h
}
"""


def test_a_status_change_drains_in_queue_order_priority_first():
    live = engine(QUEUEING, {"v": {"status": "offline"}, "g": {"status": "offline"}}, {"VIP": ["v"]})
    for minute, contact_id, tags in ((0, "c1", []), (1, "c2", ["vip"]), (2, "c3", [])):
        assert rows(live.handle(event(minute, "route", contact=contact_id, attrs={"tags": tags})))[0][3] == "queued"
    # v is in the VIP team and the space: the VIP contact (priority 10) goes first, then c1 (earlier).
    drained = rows(live.handle(event(5, "status", user="v", status="online")))
    assert drained == [
        (5, "c2", "vip", "assigned", "v", "round_robin"),
        (5, "c1", "general", "assigned", "v", "round_robin"),
        (5, "c3", "general", "assigned", "v", "round_robin"),
    ]


def test_timeout_branches_to_a_route_and_requeues_at_the_deadline():
    live = engine(QUEUEING, {"g": {"status": "offline"}, "v": {"status": "offline"}}, {"VIP": ["v"]})
    live.handle(event(0, "route", contact="c1", attrs={"tags": ["vip"]}))
    fired = live.advance(at(45))
    assert rows(fired) == [(30, "c1", "vip", "timed_out", None, None), (30, "c1", "general", "queued", None, None)]
    assert fired[1].deadline == at(90)
    entry = live.queue.entries["c1"]
    assert (entry.route, entry.enqueued_at, entry.deadline) == ("general", at(30), at(90))


def test_timeout_without_branch_fails_and_keeps_the_assignee():
    live = engine(QUEUEING, {"g": {"status": "offline", "open": 1}})
    live.handle(event(0, "route", contact="c1", attrs={"tags": [], "assignee": "g"}))
    assert rows(live.advance(at(60))) == [
        (60, "c1", "general", "timed_out", None, None),
        (60, "c1", "general", "failed", None, "timeout"),
    ]
    assert live.contacts["c1"].contact.assignee == "g" and "c1" not in live.queue


def test_timeout_to_unassign_carries_the_route_that_timed_out():
    live = engine(
        "route r { assign to space only online timeout 10m -> unassign }", {"u": {"status": "away", "open": 1}}
    )
    live.handle(event(0, "route", contact="c1", attrs={"assignee": "u"}))
    assert rows(live.advance(at(10))) == [
        (10, "c1", "r", "timed_out", None, None),
        (10, "c1", "r", "unassigned", None, None),
    ]
    assert live.roster.users["u"].open == 0


def test_a_deadline_before_an_event_fires_first_and_one_at_it_fires_after():
    policy = "route r { assign to space only online timeout 10m }"
    live = engine(policy, {"u": {"status": "offline"}})
    live.handle(event(0, "route", contact="early", attrs={}))
    live.handle(event(1, "route", contact="on_time", attrs={}))
    # At minute 10.5: `early` (deadline 10) fires before the status change; at 11, `on_time` (deadline 11)
    # fires after the events stamped 11, which bring u online first.
    before = rows(live.handle(event(10.5, "status", user="u", status="away")))
    assert before[:2] == [(10, "early", "r", "timed_out", None, None), (10, "early", "r", "failed", None, "timeout")]
    assert rows(live.handle(event(11, "status", user="u", status="online"))) == [
        (11, "on_time", "r", "assigned", "u", "round_robin")
    ]


def test_a_queued_contact_routed_again_keeps_its_place_and_writes_nothing():
    live = engine(QUEUEING, {"g": {"status": "offline"}})
    live.handle(event(0, "route", contact="c1", attrs={"tags": []}))
    assert live.handle(event(5, "route", contact="c1", attrs={"tags": ["vip"], "note": "again"})) == []
    entry = live.queue.entries["c1"]
    assert (entry.route, entry.enqueued_at, entry.deadline) == ("general", at(0), at(60))
    assert live.contacts["c1"].contact.attributes["note"] == "again"


def test_close_takes_a_contact_out_of_the_queue_or_from_its_assignee():
    live = engine(QUEUEING, {"g": {"status": "offline"}, "h": {}})
    live.handle(event(0, "route", contact="c1", attrs={"tags": []}))  # assigned to h
    live.handle(event(0, "status", user="h", status="offline"))
    live.handle(event(1, "route", contact="c2", attrs={"tags": []}))  # queued
    live.handle(event(2, "close", contact="c1"))
    live.handle(event(2, "close", contact="c2"))
    assert live.roster.users["h"].open == 0 and len(live.queue) == 0
    assert live.advance(at(120)) == []


def test_timeouts_due_together_fire_in_queue_order_each_followed_by_its_drain():
    policy = (
        'route hi when urgent == true { assign to team "T" only open < 1 priority 5 timeout 10m -> spill }\n'
        'route lo { assign to team "T" only open < 1 timeout 10m -> spill }\n'
        "route spill { assign to space only open < 1 }"
    )
    live = engine(policy, {"t": {"open": 1}, "s": {}}, {"T": ["t"]})
    live.handle(event(0, "route", contact="low", attrs={"urgent": False}))
    live.handle(event(0, "route", contact="high", attrs={"urgent": True}))
    assert rows(live.advance(at(10))) == [
        (10, "high", "hi", "timed_out", None, None),
        (10, "high", "spill", "assigned", "s", "round_robin"),
        (10, "low", "lo", "timed_out", None, None),
        (10, "low", "spill", "queued", None, None),
    ]


def test_joining_a_team_drains_and_deleted_users_are_never_candidates():
    policy = 'route r { assign to team "T" only online }'
    live = engine(policy, {"a": {}, "b": {}, "x": {"status": "offline"}}, {"T": ["x"]})
    assert rows(live.handle(event(0, "route", contact="c1", attrs={})))[0][3] == "queued"
    live.handle(event(1, "delete", user="a"))
    assert live.handle(event(2, "join", user="a", team="T")) == []
    assert rows(live.handle(event(3, "join", user="b", team="T"))) == [(3, "c1", "r", "assigned", "b", "round_robin")]


def test_a_user_event_creates_the_user_and_drains():
    live = engine("route r { assign to space only online }", {"x": {"status": "offline"}})
    live.handle(event(0, "route", contact="c1", attrs={}))
    assert rows(live.handle(event(1, "user", user="new", attrs={"status": "online", "skills": ["x"]}))) == [
        (1, "c1", "r", "assigned", "new", "round_robin")
    ]
    assert live.roster.users["new"].attributes == {"skills": ["x"]}


def test_an_empty_pool_fails_when_routed_but_never_in_a_drain():
    live = engine('route r { assign to team "T" only online }', {"x": {"status": "offline"}}, {"T": ["x"]})
    live.handle(event(0, "route", contact="c1", attrs={}))
    live.handle(event(1, "leave", user="x", team="T"))  # the pool is now empty: c1 stays queued
    assert "c1" in live.queue
    assert rows(live.handle(event(2, "route", contact="c2", attrs={}))) == [
        (2, "c2", "r", "failed", None, "team_empty")
    ]
