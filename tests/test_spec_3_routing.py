"""SPEC 3: routing one contact: route selection, the four actions and their failures,
eligibility with three-valued logic, round-robin cursors, least-open tie-breaks, assigning."""

from datetime import datetime, timedelta

from routing_helpers import at, contact, router

SPACE_RR = "route all { assign to space }"


def test_the_first_route_whose_when_holds_and_no_route_otherwise():
    policy = 'route vip when "vip" in tags { assign to space }\nroute es when language == "es" { assign to space }'
    routing = router(policy, {"u1": {}})
    assert routing.route(contact(tags=["vip"], language="es"), at()).route == "vip"
    assert routing.route(contact("c2", language="es"), at()).route == "es"
    decision = routing.route(contact("c3", language="en"), at())
    assert (decision.outcome, decision.route, decision.user, decision.reason) == ("no_route", None, None, None)


def test_a_null_when_does_not_hold_and_neither_does_its_not():
    routing = router("route a when not (tier > 1) { assign to space }\nroute b { unassign }", {"u1": {}})
    assert routing.route(contact(tier=None), at()).route == "b"
    assert routing.route(contact("c2", tier="gold"), at()).route == "b"  # a mismatched kind is null too
    assert routing.route(contact("c3", tier=1), at()).route == "a"


def test_unassign_takes_the_contact_from_its_assignee():
    routing = router("route r { unassign }", {"u1": {"open": 2}})
    decision = routing.route(contact(assignee="u1"), at())
    assert (decision.outcome, decision.route) == ("unassigned", "r")
    assert routing.roster.users["u1"].open == 1


def test_assign_to_user_failures_and_success_whatever_status_or_load():
    routing = router(
        "route r { assign to user contact.agent }", {"u1": {"status": "offline", "open": 99}, "u2": {"deleted": True}}
    )
    outcomes = [
        routing.route(contact(f"c{i}", agent=agent), at()) for i, agent in enumerate([None, "ghost", "u2", "u1"])
    ]
    assert [(d.outcome, d.reason, d.user) for d in outcomes] == [
        ("failed", "user_not_found", None),
        ("failed", "user_not_found", None),
        ("failed", "user_deleted", None),
        ("assigned", "user", "u1"),
    ]
    assert routing.roster.users["u1"].open == 100


def test_empty_team_and_space_fail_but_a_team_of_ineligible_users_queues():
    routing = router('route t { assign to team "Ghosts" }', {"u1": {"deleted": True}}, {"Ghosts": ["u1"]})
    assert (routing.route(contact(), at()).reason) == "team_empty"
    assert router(SPACE_RR, {"u1": {"deleted": True}}).route(contact(), at()).reason == "space_empty"
    queued = router(
        'route t { assign to team "A" only online timeout 30m }', {"u1": {"status": "away"}}, {"A": ["u1"]}
    ).route(contact(), at())
    assert (queued.outcome, queued.deadline, queued.reason) == ("queued", at(30), None)


def test_round_robin_follows_the_cursor_in_byte_order_and_wraps():
    users = {"b": {}, "a": {}, "B": {}, "é": {}}  # byte order: B < a < b < é
    routing = router(SPACE_RR, users)
    picks = [routing.route(contact(f"c{i}"), at()).user for i in range(5)]
    assert picks == ["B", "a", "b", "é", "B"]
    assert routing.roster.cursors["*"] == "B"


def test_a_cursor_naming_a_user_not_in_the_pool_still_marks_its_place():
    routing = router(SPACE_RR, {"u1": {}, "u3": {}}, cursors={"*": "u2"})
    assert routing.route(contact(), at()).user == "u3"
    routing = router(SPACE_RR, {"u1": {}, "u3": {}}, cursors={"*": "zz"})
    assert routing.route(contact(), at()).user == "u1"


def test_round_robin_skips_ineligible_users_and_pools_share_a_cursor():
    policy = 'route one when n == 1 { assign to team "T" only online }\nroute two { assign to team "T" }'
    routing = router(policy, {"u1": {}, "u2": {"status": "away"}, "u3": {}}, {"T": ["u1", "u2", "u3"]})
    assert routing.route(contact("c1", n=1), at()).user == "u1"
    assert routing.route(contact("c2", n=2), at()).user == "u2"  # the shared cursor was at u1
    assert routing.route(contact("c3", n=1), at()).user == "u3"  # u2 is skipped, not eligible


def test_least_open_ties_go_to_never_assigned_then_least_recent_then_smallest_id():
    users = {
        "u1": {"open": 1},
        "u2": {"open": 2},
        "u3": {"open": 1, "last_assigned_at": at(-60)},
        "u4": {"open": 1, "last_assigned_at": at(-30)},
        "u0": {"open": 1},
    }
    routing = router("route r { assign to space using least_open }", users)
    picks = [routing.route(contact(f"c{i}"), at()).user for i in range(4)]
    # u0 and u1 never assigned (smallest id first), then u3 (earlier) and u4.
    assert picks == ["u0", "u1", "u3", "u4"]
    assert routing.roster.cursors == {}  # least_open never moves the cursor


def test_assignments_at_the_same_instant_are_still_ordered():
    routing = router("route r { assign to space using least_open }", {"u1": {}, "u2": {}})
    assert [routing.route(contact(f"c{i}"), at()).user for i in range(4)] == ["u1", "u2", "u1", "u2"]


def test_reassigning_moves_counts_and_the_same_user_keeps_them():
    routing = router("route r { assign to space using least_open }", {"u1": {"open": 3}, "u2": {"open": 0}})
    moved = routing.route(contact(assignee="u1"), at())
    assert moved.user == "u2" and routing.roster.users["u1"].open == 2 and routing.roster.users["u2"].open == 1
    kept = router(SPACE_RR, {"u1": {"open": 1}}).route(contact(assignee="u1"), at())
    assert kept.user == "u1"


def test_assigning_to_the_holder_changes_no_count_but_moves_cursor_and_time():
    routing = router(SPACE_RR, {"u1": {"open": 1}, "u2": {}})
    decision = routing.route(contact(assignee="u1"), at(5))
    assert decision.user == "u1" and routing.roster.users["u1"].open == 1
    assert routing.roster.cursors["*"] == "u1" and routing.roster.users["u1"].last_assigned_at == at(5)


def test_null_fields_and_lists_in_eligibility():
    policy = "route r { assign to space only contact.language in languages }"
    routing = router(policy, {"u1": {"attributes": {"languages": ["es"]}}, "u2": {"attributes": {}}})
    assert routing.route(contact(language="es"), at()).user == "u1"
    assert routing.route(contact("c2", language=None), at()).outcome == "queued"
    assert routing.route(contact("c3", language="fr"), at()).outcome == "queued"


def test_null_literal_comparisons_test_for_null():
    routing = router(
        "route sticky when last_agent != null { unassign }\nroute rest when last_agent == null { unassign }", {"u1": {}}
    )
    assert routing.route(contact(last_agent="u1"), at()).route == "sticky"
    assert routing.route(contact("c2"), at()).route == "rest"


def test_now_fields_use_the_policy_timezone():
    policy = 'timezone "Asia/Kuala_Lumpur"\nroute day when now.hour >= 9 and now.weekday == "wed" { unassign }'
    routing = router(policy, {"u1": {}})
    assert routing.route(contact(), at()).route == "day"  # 09:00 UTC is 17:00 in Kuala Lumpur
    assert (
        router(policy.replace("Asia/Kuala_Lumpur", "America/New_York"), {"u1": {}}).route(contact(), at()).outcome
        == "no_route"
    )  # 04:00 in New York


def test_now_date_lists_holidays_in_the_policy_timezone():
    policy = (
        'timezone "Asia/Kuala_Lumpur"\n'
        'route holiday when now.date in ["2026-12-25", "2026-12-26"] { unassign }\n'
        "route desk { assign to space }"
    )
    on = datetime(2026, 12, 25, 12, 0)  # 20:00 on Christmas Day in Kuala Lumpur
    assert router(policy, {"u1": {}}).route(contact(), on).route == "holiday"
    assert router(policy, {"u1": {}}).route(contact(), on - timedelta(hours=21)).route == "desk"  # 24 Dec, 23:00 there
    # 23:00 UTC on 24 December is already 07:00 on the 25th in Kuala Lumpur.
    assert router(policy, {"u1": {}}).route(contact(), on - timedelta(hours=13)).route == "holiday"
