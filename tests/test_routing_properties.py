"""SPEC 3 and 5.1 `batch`: the invariants of routing, as hypothesis properties.

The fast batch path (DuckDB candidate sets, lazy heaps) must give exactly
what routing the contacts one at a time through the Router gives.
"""

from collections import Counter
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import NOW, contacts, contacts_table, policies, roster_of, snapshot_connection, snapshots

from rota.dsl.ast import (
    AssignToSpace,
    AssignToTeam,
    AssignToUser,
    Compare,
    Field,
    Literal,
    Only,
    Policy,
    Priority,
    Route,
    Unassign,
    Using,
)
from rota.engine import compile_policy, run_batch
from rota.jobs import BatchSummary

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def batch_rows(policy, snapshot, items, encoded=False):
    people, memberships, cursors = snapshot
    roster = roster_of(people, memberships, cursors)
    connection = snapshot_connection(*snapshot)
    table = run_batch(compile_policy(policy), connection, roster, contacts_table(items), NOW, encoded=encoded)
    if encoded:  # each text once in its column's dictionary, so that counting the codes counts the texts
        for name in ("route", "outcome", "user", "reason"):
            dictionary = table.column(name).combine_chunks().dictionary.to_pylist()
            assert len(set(dictionary)) == len(dictionary) and None not in dictionary
    rows = [
        tuple(row[c] for c in ("contact", "route", "outcome", "user", "reason", "deadline"))
        for row in table.to_pylist()
    ]
    assert_summary_counts(BatchSummary.of(table, 0.0), rows)
    return rows, roster


def assert_summary_counts(summary, rows):
    """The summary `rota batch` prints counts the rows it wrote (the codes of dictionary columns included)."""
    counted = [Counter(row[index] for row in rows if row[index] is not None) for index in (1, 2, 3)]
    assert (summary.routes, summary.outcomes) == (counted[0], counted[1])
    assert [count for _, count in summary.busiest_users] == sorted(counted[2].values(), reverse=True)[:5]
    assert all(counted[2][user] == count for user, count in summary.busiest_users)


def one_by_one_rows(policy, snapshot, items):
    from rota.engine import Router

    roster = roster_of(*snapshot)
    decisions = Router(compile_policy(policy), roster).route_batch(items, NOW)
    return [(x.contact, x.route, x.outcome, x.user, x.reason, x.deadline) for x in decisions], roster


@SETTINGS
@given(snapshot=snapshots(), policy=policies(), data=st.data())
def test_batch_equals_routing_one_at_a_time(snapshot, policy, data):
    items = data.draw(contacts([person.id for person in snapshot[0]]))
    fast, fast_roster = batch_rows(policy, snapshot, items, encoded=data.draw(st.booleans(), label="encoded"))
    slow, slow_roster = one_by_one_rows(policy, snapshot, [_copy(c) for c in items])
    assert fast == slow
    assert {u.id: u.open for u in fast_roster.users.values()} == {u.id: u.open for u in slow_roster.users.values()}
    assert fast_roster.cursors == slow_roster.cursors


@SETTINGS
@given(snapshot=snapshots(), policy=policies(), data=st.data())
def test_every_contact_gets_exactly_one_row_in_input_order(snapshot, policy, data):
    items = data.draw(contacts([person.id for person in snapshot[0]]))
    rows, _ = batch_rows(policy, snapshot, items)
    assert [row[0] for row in rows] == [contact.id for contact in items]


@SETTINGS
@given(snapshot=snapshots(), policy=policies(), data=st.data())
def test_nobody_ineligible_is_ever_chosen_and_least_open_is_minimal(snapshot, policy, data):
    from rota.engine import Router

    items = data.draw(contacts([person.id for person in snapshot[0]]))
    compiled = compile_policy(policy)
    router = Router(compiled, roster_of(*snapshot))
    for contact in items:
        route = compiled.select(contact.fields, router.now_fields(NOW))
        eligible = router.candidates(route, contact, NOW) if route and route.kind in ("team", "space") else None
        open_before = {user.id: user.open for user in eligible or ()}
        decision = router.route(contact, NOW)
        if eligible is None or decision.outcome != "assigned":
            continue
        chosen = router.roster.users[decision.user]
        assert chosen in eligible, "an ineligible user was chosen"
        assert not chosen.deleted
        if route.route.logic == "least_open":
            assert open_before[chosen.id] == min(open_before.values())


@SETTINGS
@given(snapshot=snapshots(), count=st.integers(0, 60), online_only=st.booleans())
def test_round_robin_counts_differ_by_at_most_one(snapshot, count, online_only):
    filters = (Only(Field("user", "online")),) if online_only else ()
    policy = Policy(routes=(Route("all", None, AssignToSpace(), (Using("round_robin"),) + filters),))
    from rota.engine import Contact

    rows, _ = batch_rows(policy, snapshot, [Contact(f"c{i}", attributes=_blank()) for i in range(count)])
    people = [p for p in snapshot[0] if not p.deleted and (p.status == "online" or not online_only)]
    given_to = Counter(row[3] for row in rows if row[2] == "assigned")
    if people:
        spread = [given_to.get(p.id, 0) for p in people]
        assert max(spread) - min(spread) <= 1
        assert sum(spread) == count


def _blank():
    return {"language": None, "tags": None, "tier": None, "last_agent": None}


def _copy(contact):
    from rota.engine import Contact

    return Contact(contact.id, contact.assignee, dict(contact.attributes))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(snapshot=snapshots(), policy=policies(), data=st.data())
def test_the_batch_fallback_paths_agree_too(snapshot, policy, data, monkeypatch):
    """Past the group limit, contact filters are checked per pick; without SQL, routes are chosen in Python;
    a sticky route's user is evaluated per contact rather than read as a column; the pass is Python's."""
    from rota.engine import batch, batch_plan

    monkeypatch.setattr(batch_plan, "GROUP_PAIR_LIMIT", 0)
    monkeypatch.setattr(batch, "KERNEL_PASS", False)
    monkeypatch.setattr(batch, "USER_TARGET_AS_COLUMN", False)
    monkeypatch.setattr(batch._Batch, "select_routes", batch._Batch._select_routes_in_python)
    items = data.draw(contacts([person.id for person in snapshot[0]]))
    fast, _ = batch_rows(policy, snapshot, items)
    slow, _ = one_by_one_rows(policy, snapshot, [_copy(c) for c in items])
    assert fast == slow


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(snapshot=snapshots(), policy=policies(), data=st.data(), step=st.integers(1, 4))
def test_queueing_closed_candidate_sets_in_bulk_agrees(snapshot, policy, data, step, monkeypatch):
    """Small steps make the pass look for closed sets (nobody passes, no count can fall) after every few contacts."""
    from rota.engine import batch

    monkeypatch.setattr(batch, "PROGRESS_STEP", step)
    monkeypatch.setattr(batch, "BULK_CHECK_STEP", step)
    items = data.draw(contacts([person.id for person in snapshot[0]]))
    fast, _ = batch_rows(policy, snapshot, items)
    slow, _ = one_by_one_rows(policy, snapshot, [_copy(c) for c in items])
    assert fast == slow


LANGUAGE_CHECK = Compare("in", Field("contact", "language"), Field("user", "languages"))


@st.composite
def crowded_policies(draw, checks=(LANGUAGE_CHECK,)) -> Policy:
    """Routes of one priority, so their contacts interleave, with tight caps, so candidate sets fill up
    mid-run and reopen when a count falls (an unassign, a contact moved from its holder), beside
    sticky routes and filters that read the contact (or others of `checks`)."""
    routes = []
    for index in range(draw(st.integers(1, 4))):
        when = Compare("==", Field("contact", "tier"), Literal(index + 1)) if index < 3 else None
        action = draw(
            st.sampled_from(
                [AssignToTeam("Alpha"), AssignToSpace(), AssignToUser(Field("contact", "last_agent")), Unassign()]
            )
        )
        options = [Priority(draw(st.sampled_from([0, 0, 1])))]
        if isinstance(action, (AssignToTeam, AssignToSpace)):
            options.append(Using(draw(st.sampled_from(["round_robin", "least_open"]))))
            options.append(Only(Compare("<", Field("user", "open"), Literal(draw(st.integers(1, 4))))))
            if draw(st.booleans()):
                options.append(Only(draw(st.sampled_from(checks))))
        routes.append(Route(name=f"r{index}", when=when, action=action, options=tuple(options)))
    return Policy(routes=tuple(routes))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshot=snapshots(min_users=1), policy=crowded_policies(), data=st.data())
def test_candidate_sets_that_fill_up_and_reopen_agree(snapshot, policy, data):
    """Runs of sticky contacts assigned in one step (from one contact long on) by the Python pass; the
    contacts' groups numbered by Arrow and by DuckDB, as for values Arrow cannot hash; the kernel's pass."""
    from rota.engine import batch, batch_plan

    items = data.draw(contacts([person.id for person in snapshot[0]], max_size=40))
    slow, slow_roster = one_by_one_rows(policy, snapshot, [_copy(c) for c in items])
    for by_arrow, bulk_run, by_kernel in (
        (True, 1, False),
        (False, batch.BULK_RUN, False),
        (True, batch.BULK_RUN, True),
    ):
        with (
            mock.patch.object(batch_plan, "GROUPS_BY_ARROW", by_arrow),
            mock.patch.multiple(batch, BULK_RUN=bulk_run, KERNEL_PASS=by_kernel),
        ):
            fast, fast_roster = batch_rows(policy, snapshot, items)
        assert fast == slow
        assert _counts_and_turns(fast_roster) == _counts_and_turns(slow_roster)
        assert fast_roster.cursors == slow_roster.cursors


def _counts_and_turns(roster):
    """What the next decisions read of each user: its count and the order of its last assignment."""
    return {u.id: (u.open, u.assigned_order, u.last_assigned_at) for u in roster.users.values()}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshot=snapshots(min_users=1), data=st.data())
def test_a_run_of_sticky_contacts_leaves_each_user_as_one_by_one_does(snapshot, data):
    """Sticky contacts nobody holds come first and run long; least-open then reads the counts and turns they left."""
    from rota.engine import Contact, batch

    last_agent = Field("contact", "last_agent")
    policy = Policy(
        routes=(
            Route("back", Compare("!=", last_agent, Literal(None)), AssignToUser(last_agent), (Priority(1),)),
            Route("rest", None, AssignToSpace(), (Using("least_open"),)),
        )
    )
    drawn = data.draw(contacts([person.id for person in snapshot[0]], max_size=40))
    items = [Contact(contact.id, None, contact.attributes) for contact in drawn]
    slow, slow_roster = one_by_one_rows(policy, snapshot, [_copy(c) for c in items])
    with mock.patch.multiple(batch, BULK_RUN=1, KERNEL_PASS=False):  # the Python pass's runs in one step
        fast, fast_roster = batch_rows(policy, snapshot, items)
    assert fast == slow
    assert _counts_and_turns(fast_roster) == _counts_and_turns(slow_roster)


def test_the_summary_counts_texts_across_chunks_of_differing_dictionaries():
    import pyarrow as pa

    def chunk(codes, names):
        return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int64()), pa.array(names))

    texts = [["a", "b", None, "a"], ["b", None, "b", "c"]]
    column = pa.chunked_array([chunk([0, 1, None, 0], ["a", "b"]), chunk([0, None, 0, 1], ["b", "c"])])
    table = pa.table({"route": column, "outcome": column, "user": column})
    rows = [(None, text, text, text) for part in texts for text in part]
    assert_summary_counts(BatchSummary.of(table, 0.0), rows)
    assert BatchSummary.of(table, 0.0).busiest_users[0] == ("b", 3)
