"""The live engine's fast candidate sets choose exactly what a scan of the pool chooses.

`Router.pick` keeps the candidates of routes whose per-pick filters are caps
on `open` or indexed shapes up to date from the roster's journal; after every
event of a random run it must agree with `choose` over `candidates` (the
straightforward path), user and count, for every team and space route, for
a contact released from nobody and for one released from some users (SPEC 4.1).
"""

from contextlib import contextmanager
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import NOW, TEAMS, USER_IDS, policies, roster_of, snapshots

import rota.engine.live_candidates as live_candidates
import rota.engine.roster as roster_module
from rota.dsl.ast import AssignToSpace, AssignToTeam, BoolOp, Compare, Field, Literal, Not, Only, Policy, Route, Using
from rota.engine import Contact, Engine, Event, compile_policy
from rota.engine.clock import now_fields
from rota.engine.evaluate import compile_condition
from rota.engine.filters import KeyField, Path, analyse
from rota.engine.indexes import UserIndex
from rota.engine.roster import Change, Journal, User

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


def assert_fast_equals_scan(engine: Engine, now, released: frozenset[str] = frozenset()) -> None:
    router = engine.router
    attributes = {"language": "es", "tier": 2, "tags": []}
    for probe in (Contact("probe", None, attributes), Contact("released", None, attributes, set(released))):
        for route in engine.policy.routes:
            if route.kind not in ("team", "space"):
                continue
            candidates = router.candidates(route, probe, now)
            assert not {user.id for user in candidates} & probe.released
            expected = (router.choose(route, candidates) if candidates else None), len(candidates)
            assert router.pick(route, probe, now) == expected, (route.name, probe.released)


@contextmanager
def change_logs_keeping(count: int):
    """A journal that drops old entries early, so candidate sets that fall behind rebuild."""
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
    released=st.frozensets(st.sampled_from(USER_IDS), max_size=3),
)
def test_fast_candidates_choose_what_a_scan_chooses(snapshot, policy, steps, kept_changes, released):
    with change_logs_keeping(kept_changes):
        engine = Engine(compile_policy(policy), roster_of(*snapshot))
        run_checking(engine, steps, lambda now: assert_fast_equals_scan(engine, now, released))


def run_checking(engine: Engine, steps: list[dict], check) -> None:
    """Each step in turn (a wait moves the clock), with `check(now)` before the first and after each."""
    now = NOW
    check(now)
    for step in steps:
        if step["type"] == "wait":
            now += timedelta(minutes=step["minutes"])
            engine.advance(now, inclusive=False)
        else:
            engine.handle(Event(at=now, **step))
        check(now)


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


# ------------------------------------------------ indexed shapes, mixed kinds

# Values of every kind SPEC 2.3 tells apart: a number never equals a string, True is not 1, 2 is 2.0,
# null compares with nothing, NaN equals nothing, lists are searched and never compared whole.
SCALARS = [None, 1, 2, 2.0, 3, "1", "2", "es", "en", True, False, float("nan")]
LISTS = [
    [],
    ["es"],
    ["en", "es"],
    ["es", "en", "es"],
    [1, "es"],
    [2.0, True],
    [None, "en"],
    [["es"]],
    ["Alpha"],
    ["Beta", "Alpha"],
]
VALUES = SCALARS + LISTS
# Half the time a common value, so that users and contacts often match.
values = st.one_of(st.sampled_from(["es", 2, ["es"]]), st.sampled_from(VALUES))


def field(scope, name):
    return Field(scope, name)


INDEXED_CONDITIONS = [
    Compare("in", field("contact", "language"), field("user", "languages")),
    Compare("in", field("contact", "team"), field("user", "teams")),
    Compare("==", field("user", "region"), field("contact", "region")),
    Compare("==", field("contact", "region"), field("user", "region")),
    Compare("==", field("user", "id"), field("contact", "last_agent")),
    Compare("in", field("user", "region"), field("contact", "regions")),
    Compare(">=", field("user", "level"), field("contact", "tier")),
    Compare("<", field("user", "level"), field("contact", "tier")),
    Compare("<=", field("contact", "tier"), field("user", "level")),
    Compare(">", field("user", "level"), field("contact", "tier")),
]
# The same shapes with a `now` field: sets keyed by the clock's values, as by the contact's.
NOW_CONDITIONS = [
    Compare(">=", field("now", "hour"), field("user", "shift_start")),
    Compare("<", field("user", "shift_start"), field("now", "hour")),
    Compare("==", field("user", "shift_start"), field("now", "minute")),
    Compare("in", field("now", "weekday"), field("user", "days")),
    Compare("in", field("user", "region"), field("now", "date")),  # `in` a value that is not a list: null
]
INDEXED_CONDITIONS += NOW_CONDITIONS
# Around NOW (10:00 on a Wednesday, `now.weekday` "wed"): users on and off shift, and whose shift moves into view as time passes.
HOURS = [8, 10, 11, 12, 0, 20, "10", None, 10.0]
DAYS = [["wed"], ["mon", "thu"], [], ["wed", 3], "wed", None]
OTHER_CONDITIONS = [
    Field("user", "online"),
    Compare("<", field("user", "open"), Literal(3)),
    Compare(">=", Literal(2), field("user", "open")),
    Compare("in", Literal("billing"), field("user", "skills")),
    # shapes outside the index: the route scans
    BoolOp("or", Compare("==", field("user", "region"), field("contact", "region")), Field("user", "online")),
    Not(Compare("in", field("contact", "language"), field("user", "languages"))),
]


@st.composite
def indexed_policies(draw, shapes=INDEXED_CONDITIONS):
    routes = []
    for index in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from([AssignToTeam("Alpha"), AssignToTeam("Beta"), AssignToSpace()]))
        conditions = draw(st.lists(st.sampled_from(shapes), min_size=1, max_size=2))
        conditions += draw(st.lists(st.sampled_from(OTHER_CONDITIONS), max_size=2))
        options = (Using(draw(st.sampled_from(["round_robin", "least_open"]))),) + tuple(map(Only, conditions))
        routes.append(Route(name=f"r{index}", when=None, action=action, options=options))
    return Policy(routes=tuple(routes))


def mixed_attributes(draw):
    return {
        "languages": draw(st.one_of(st.just(["es"]), st.sampled_from(LISTS + [None, "es"]))),
        "region": draw(values),
        "level": draw(values),
        "skills": draw(st.sampled_from([[], ["billing"]])),
        "shift_start": draw(st.one_of(st.sampled_from(HOURS), values)),
        "days": draw(st.sampled_from(DAYS)),
    }


@st.composite
def mixed_snapshots(draw):
    people, memberships, cursors = draw(snapshots())
    for person in people:
        person.attributes = mixed_attributes(draw)
    return people, memberships, cursors


@st.composite
def mixed_contacts(draw):
    return {
        "language": draw(values),
        "region": draw(values),
        "regions": draw(values),
        "tier": draw(values),
        "team": draw(st.sampled_from(["Alpha", "Beta", None, 1])),
        "last_agent": draw(st.sampled_from(USER_IDS[:3] + [None, 1])),
    }


@st.composite
def mixed_events(draw):
    kind = draw(
        st.sampled_from(["route"] * 3 + ["close"] * 2 + ["status", "join", "leave", "user", "user", "delete", "wait"])
    )
    user = draw(st.sampled_from(USER_IDS + ["new"]))
    if kind == "route":
        return dict(type="route", contact=draw(st.sampled_from(CONTACT_IDS[:3])), attrs=draw(mixed_contacts()))
    if kind == "close":
        return dict(type="close", contact=draw(st.sampled_from(CONTACT_IDS[:3])))
    if kind == "status":
        return dict(type="status", user=user, status=draw(st.sampled_from(["online", "away", None])))
    if kind in ("join", "leave"):
        return dict(type=kind, user=user, team=draw(st.sampled_from(TEAMS)))
    if kind == "user":
        attributes = mixed_attributes(draw)
        changed = draw(st.lists(st.sampled_from(sorted(attributes)), unique=True, min_size=1))
        return dict(type="user", user=user, attrs={name: attributes[name] for name in changed})
    if kind == "wait":  # the clock moves: within the hour, to the next, or past a day
        return dict(type="wait", minutes=draw(st.sampled_from([1, 45, 60, 24 * 60 + 5])))
    return dict(type="delete", user=user)


def assert_picks_equal_scan(engine: Engine, probes: list[Contact], now) -> None:
    router = engine.router
    for route in engine.policy.routes:
        for probe in probes:
            candidates = router.candidates(route, probe, now)
            expected = (router.choose(route, candidates) if candidates else None), len(candidates)
            assert router.pick(route, probe, now) == expected, (route.name, probe.attributes)


@contextmanager
def candidate_sets_keeping(count: int):
    """Few candidate sets per route, so that sets are evicted and built again."""
    kept = live_candidates.MAX_SETS
    live_candidates.MAX_SETS = count
    try:
        yield
    finally:
        live_candidates.MAX_SETS = kept


INDEXED_RUNS = dict(
    snapshot=mixed_snapshots(),
    probes=st.lists(mixed_contacts(), min_size=1, max_size=4),
    steps=st.lists(mixed_events(), max_size=40),
    kept_changes=st.sampled_from([2, 65_536]),
    kept_sets=st.sampled_from([1, 64]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy=indexed_policies(), **INDEXED_RUNS)
def test_indexed_candidates_choose_what_a_scan_chooses(snapshot, policy, probes, steps, kept_changes, kept_sets):
    """Every indexed shape, with caps, `online` and static filters, over values of every kind,
    with the roster changing and the clock moving between decisions: the live sets give what a scan gives."""
    assert_runs_agree(snapshot, policy, probes, steps, kept_changes, kept_sets)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy=indexed_policies(NOW_CONDITIONS), **INDEXED_RUNS)
def test_now_keyed_candidates_choose_what_a_scan_chooses(snapshot, policy, probes, steps, kept_changes, kept_sets):
    """The shapes with a `now` field on every route, the clock moving within the hour and past it."""
    assert_runs_agree(snapshot, policy, probes, steps, kept_changes, kept_sets)


def assert_runs_agree(snapshot, policy, probes, steps, kept_changes, kept_sets) -> None:
    contacts = [Contact(f"p{index}", None, attributes) for index, attributes in enumerate(probes)]
    with change_logs_keeping(kept_changes), candidate_sets_keeping(kept_sets):
        engine = Engine(compile_policy(policy), roster_of(*snapshot))
        run_checking(engine, steps, lambda now: assert_picks_equal_scan(engine, contacts, now))


# `user.F in contact.L` alone keeps a set per item of L and chooses over their union: values few enough that
# a list's items often each have users, with duplicates, kinds that differ (1, True) and a list as a value.
TIER_NAMES = ["gold", "silver", "bronze"]
TIERS = TIER_NAMES + [None, 1, True, ["gold"]]
ACCEPTED = st.one_of(
    st.lists(st.sampled_from(TIER_NAMES), max_size=4),
    st.lists(st.sampled_from(TIERS), max_size=3),
    st.sampled_from([None, "gold", ["gold", "gold"], [["gold"], "silver"]]),
)
MEMBER = Compare("in", field("user", "tier_name"), field("contact", "accepted"))
MEMBER_KEY = KeyField("contact", "accepted")


@st.composite
def member_policies(draw):
    routes = []
    for index in range(draw(st.integers(1, 2))):
        action = draw(st.sampled_from([AssignToTeam("Alpha"), AssignToSpace()]))
        conditions = [MEMBER] + draw(st.lists(st.sampled_from(OTHER_CONDITIONS[:4]), max_size=2))
        options = (Using(draw(st.sampled_from(["round_robin", "least_open"]))),) + tuple(map(Only, conditions))
        routes.append(Route(name=f"r{index}", when=None, action=action, options=options))
    return Policy(routes=tuple(routes))


@st.composite
def member_events(draw):
    step = draw(events())
    if step["type"] == "route":
        step["attrs"]["accepted"] = draw(ACCEPTED)
    elif step["type"] == "user" and draw(st.booleans()):
        step["attrs"]["tier_name"] = draw(st.sampled_from(TIERS))
    return step


@st.composite
def member_snapshots(draw):
    people, memberships, cursors = draw(snapshots(min_users=4))
    for person in people:  # mostly one of the names, so that a list's items often each have users
        person.attributes = {"tier_name": draw(st.sampled_from(TIER_NAMES * 3 + TIERS))}
    return people, memberships, cursors


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    snapshot=member_snapshots(),
    policy=member_policies(),
    accepted=st.lists(ACCEPTED, min_size=1, max_size=3),
    released=st.frozensets(st.sampled_from(USER_IDS), max_size=3),
    steps=st.lists(member_events(), max_size=30),
    kept_sets=st.sampled_from([1, 64]),
)
def test_a_set_per_item_of_the_contact_s_list_chooses_what_a_scan_chooses(
    snapshot, policy, accepted, released, steps, kept_sets
):
    """`user.F in contact.L`: the union of the sets of L's items, least-open and round-robin, with users
    released, gives the user and the count a scan gives."""
    probes = [Contact(f"p{index}", None, {"accepted": value}, set(released)) for index, value in enumerate(accepted)]
    probes += [Contact(f"q{index}", None, {"accepted": value}) for index, value in enumerate(accepted)]
    with candidate_sets_keeping(kept_sets):
        engine = Engine(compile_policy(policy), roster_of(*snapshot))
        for route in engine.policy.routes:
            engine.router.pick(route, probes[0], NOW)  # the route's live candidates are made on first use
        # Every route takes the per-item path: the property tests the union, not the set per list.
        assert [live.split for live in engine.router._live.values()] == [MEMBER_KEY] * len(engine.policy.routes)
        run_checking(engine, steps, lambda now: assert_picks_equal_scan(engine, probes, now))


def test_each_shape_is_indexed_and_keeps_a_live_set():
    """The shapes of INDEXED_CONDITIONS take the indexed path (and the router keeps a set for them),
    the others do not: so the property above tests the index, not the scan."""
    for condition in INDEXED_CONDITIONS:
        route = compile_policy(Policy(routes=(Route("r", None, AssignToSpace(), (Only(condition),)),))).routes[0]
        assert [c.path for c in route.plan.conjuncts] == [Path.INDEXED], condition
        engine = Engine(compile_policy(Policy(routes=(route.route,))), roster_of([], [], {}))
        engine.router.pick(engine.policy.routes[0], Contact("c", None, {}), NOW)
        assert "r" in engine.router._live
    for condition in OTHER_CONDITIONS[-2:]:
        route = compile_policy(Policy(routes=(Route("r", None, AssignToSpace(), (Only(condition),)),))).routes[0]
        assert not route.plan.live, condition


@settings(max_examples=300, deadline=None)
@given(
    condition=st.sampled_from(INDEXED_CONDITIONS),
    people=st.lists(st.tuples(st.sampled_from(USER_IDS), st.booleans(), st.builds(dict)), max_size=30),
    data=st.data(),
)
def test_an_index_never_misses_a_member_that_passes(condition, people, data):
    """After members come, change and go, a look-up holds every member that passes, and only members."""
    spec = analyse(condition).index
    check = compile_condition(condition)
    members: dict[str, User] = {}
    index = UserIndex(spec, [])
    for user_id, joins, _ in people:  # each step: the user leaves, changes, and joins again (or not)
        if user_id in members:
            index.remove(user_id)
            del members[user_id]
        if joins:
            user = User(id=user_id, teams=data.draw(st.sampled_from(LISTS)))
            user.attributes = mixed_attributes(data.draw)
            members[user_id] = user
            index.add(user)
    contact = data.draw(mixed_contacts())
    moment = now_fields(NOW + timedelta(minutes=data.draw(st.sampled_from([0, 1, 60, 120, 24 * 60]))), None)
    found = index.lookup((contact if spec.key.scope == "contact" else moment).get(spec.key.name))
    passing = {user.id for user in members.values() if check(user, contact, moment)}
    if found is not None:
        assert passing <= set(found) <= set(members)


def test_a_list_in_a_contact_list_is_not_looked_up_but_still_found():
    """`region in contact.regions` holds for a user whose region is the list ["es"] when the
    contact's regions hold that list: the index cannot look a list up, so it answers "any member"."""
    condition = Compare("in", field("user", "region"), field("contact", "regions"))
    user = User(id="u1", attributes={"region": ["es"]})
    index = UserIndex(analyse(condition).index, [user])
    assert compile_condition(condition)(user, {"regions": [["es"]]}, {})
    assert index.lookup([["es"]]) is None
    assert list(index.lookup(["es"])) == []


def test_sets_keyed_by_now_are_built_once_an_hour_and_the_hour_before_goes():
    policy = compile_policy(Policy(routes=(Route("r", None, AssignToSpace(), (Only(NOW_CONDITIONS[0]),)),)))
    people = [User(id=f"u{hour}", attributes={"shift_start": hour}) for hour in (8, 10, 11)]
    engine = Engine(policy, roster_of(people, [], {}))
    route, probe = engine.policy.routes[0], Contact("c", None, {})
    assert engine.router.pick(route, probe, NOW)[1] == 2  # 10:00: the shifts of 8 and 10
    live = engine.router._live["r"]
    built = next(iter(live.sets.values()))
    assert engine.router.pick(route, probe, NOW + timedelta(minutes=59))[1] == 2
    assert list(live.sets.values()) == [built]  # the same hour: the same set
    assert engine.router.pick(route, probe, NOW + timedelta(minutes=60))[1] == 3  # 11:00
    assert len(live.sets) == 1 and built not in live.sets.values()
