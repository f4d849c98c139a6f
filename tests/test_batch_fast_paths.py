"""SPEC 3.4 and 5.1 `batch`: the batch's own fast paths held to the plain rule.

The whole batch is held to routing one contact at a time in
test_routing_properties.py; these properties hold each piece it is built of
to the straightforward version, on sequences of steps a pass can take.
"""

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from rota.engine.batch_plan import open_limit
from rota.engine.batch_rows import code_type, taken
from rota.engine.batch_targets import Targets
from rota.engine.candidates import FallenCounts, RoundRobinSet
from rota.engine.choice import PassKeys, RisingKeyHeap, first_after, least_open
from rota.engine.decisions import USER_DELETED, USER_NOT_FOUND
from rota.engine.roster import Roster, User
from rota.storage.files import ids_strictly_increase

SETTINGS = settings(max_examples=300, deadline=None)

# A step of a pass: choose for a contact (with a cap, or none), a contact given to a user by some
# other set (its key rises unseen), or a contact taken from a user (its key falls, the set is told).
steps = st.lists(
    st.one_of(
        st.tuples(st.just("choose"), st.one_of(st.none(), st.integers(0, 6)), st.booleans()),
        st.tuples(st.just("rise"), st.integers(0, 7)),
        st.tuples(st.just("fall"), st.integers(0, 7)),
    ),
    max_size=40,
)
people = st.lists(
    st.tuples(st.integers(0, 4), st.integers(-1, 3)), min_size=1, max_size=8
)  # (open, assigned_order): snapshot orders, ties and never-assigned included


@SETTINGS
@given(people=people, in_set=st.lists(st.booleans(), min_size=8, max_size=8), steps=steps)
def test_the_rising_key_heap_chooses_as_the_least_open_rule(people, in_set, steps):
    users = [
        User(f"u{index}", open=open_count, assigned_order=order) for index, (open_count, order) in enumerate(people)
    ]
    members = [user for user, member in zip(users, in_set) if member]
    next_order = 4
    heap = RisingKeyHeap(members, PassKeys.of(reversed(users), next_order, len(steps)))
    for step in steps:
        if step[0] == "choose":
            _, cap, monotone = step
            accept = None if cap is None else (lambda user, cap=cap: user.open < cap)
            passing = [user for user in members if accept is None or accept(user)]
            expected = least_open(passing) if passing else None
            if monotone and members and expected is not least_open(members):
                expected = None  # a monotone cap the least loaded fails, everyone fails
            chosen = heap.choose(accept, monotone)
            assert chosen is expected
            if chosen is None:
                continue
            user = chosen
        else:
            user = users[step[1] % len(users)]
            if step[0] == "fall":
                if user.open > 0:
                    user.open -= 1
                    if user in members:
                        heap.push(user)
                continue
        user.open += 1
        user.assigned_order = next_order
        next_order += 1


@SETTINGS
@given(ids=st.lists(st.text("ab", max_size=3), max_size=12), in_order=st.booleans(), as_chunks=st.booleans())
def test_the_in_order_duplicate_check_agrees_with_counting_distinct_ids(ids, in_order, as_chunks):
    if in_order:
        ids = sorted(ids)
    column = pa.chunked_array([ids[: len(ids) // 2], ids[len(ids) // 2 :]], pa.string()) if as_chunks else pa.array(ids)
    if ids_strictly_increase(column):
        assert len(set(ids)) == len(ids)
    if in_order and len(set(ids)) == len(ids):
        assert ids_strictly_increase(column)


@SETTINGS
@given(people=people, steps=steps)
def test_a_cap_made_a_bound_on_the_keys_chooses_as_the_cap(people, steps):
    """`choose_below(below_open(cap))` is `choose(open < cap)` for a monotone cap, as counts rise and fall."""
    users = [
        User(f"u{index}", open=open_count, assigned_order=order) for index, (open_count, order) in enumerate(people)
    ]
    keys = PassKeys.of(users, 4, len(steps))
    heap, next_order = RisingKeyHeap(users, keys), 4
    for step in steps:
        if step[0] == "choose":
            cap = 4 if step[1] is None else step[1]
            passing = [user for user in users if user.open < cap]
            expected = least_open(users) if passing and least_open(users) in passing else None
            user = heap.choose_below(keys.below_open(cap))
            assert user is expected
            if user is None:
                continue
        else:
            user = users[step[1] % len(users)]
            if step[0] == "fall":
                if user.open > 0:
                    user.open -= 1
                    heap.push(user)
                continue
        user.open += 1
        user.assigned_order = next_order
        next_order += 1


caps = st.lists(st.tuples(st.booleans(), st.one_of(st.integers(-2, 6), st.floats(-2, 6, allow_nan=False))), max_size=3)


@SETTINGS
@given(caps=caps, open_count=st.integers(0, 7))
def test_caps_made_one_open_limit_pass_whom_the_caps_pass(caps, open_count):
    limit = open_limit(caps)
    passes = all(open_count < cap if strict else open_count <= cap for strict, cap in caps)
    assert passes == (limit is None or open_count < limit)


@SETTINGS
@given(
    people=people,
    cursor=st.one_of(st.none(), st.sampled_from(["u0", "u3", "u7", "a", "u", "z"])),
    steps=st.lists(
        st.one_of(
            st.tuples(st.just("choose"), st.one_of(st.none(), st.integers(0, 6))),
            st.tuples(st.just("cursor"), st.sampled_from(["u0", "u2", "u5", "a", "z"])),  # moved by another set
            st.tuples(st.just("rise"), st.integers(0, 7)),
        ),
        max_size=30,
    ),
)
def test_round_robin_going_on_from_its_last_choice_chooses_as_the_cursor_says(people, cursor, steps):
    """SPEC 3.4's round-robin: the first passing user by id after the pool's cursor, wrapping round."""
    users = sorted((User(f"u{index}", open=open_count) for index, (open_count, _) in enumerate(people)), key=_id)
    cursors = {} if cursor is None else {"pool": cursor}
    fallen = FallenCounts(Roster.build(users))
    sets = {cap: RoundRobinSet(users, cursors, "pool", True, fallen, cap) for cap in (None, 1, 3, 5)}
    for step in steps:
        if step[0] == "cursor":
            cursors["pool"] = step[1]
            continue
        if step[0] == "rise":
            users[step[1] % len(users)].open += 1
            continue
        cap = step[1] if step[1] in sets else None
        start = first_after([user.id for user in users], cursors.get("pool"))
        in_turn = users[start:] + users[:start]
        expected = next((user for user in in_turn if cap is None or user.open < cap), None)
        chosen = sets[cap].choose(None)
        assert chosen is expected
        if chosen is not None:
            cursors["pool"] = chosen.id
            chosen.open += 1


def _id(user: User) -> str:
    return user.id


@SETTINGS
@given(
    people=st.lists(st.booleans(), min_size=1, max_size=6),
    named=st.lists(
        st.one_of(st.none(), st.sampled_from(["u0", "u1", "u2", "u3", "u4", "u5", "ghost", ""])), max_size=12
    ),
)
def test_targets_named_by_a_column_of_ids_are_those_named_one_by_one(people, named):
    """Arrow's match of a text column of ids gives each contact the user (or the failure) the plain look-up does."""
    users = [User(f"u{index}", deleted=deleted) for index, deleted in enumerate(people)]
    roster = Roster.build(users)
    keys = PassKeys.of(users, 0, len(named))
    positions = np.arange(len(named))
    by_column, by_value = Targets(keys, len(named)), Targets(keys, len(named))
    by_column.name_by_ids(positions, pa.array(named, pa.string()))
    by_value.name_by_values(positions, named)
    for position, user_id in enumerate(named):
        user = roster.users.get(user_id) if user_id is not None else None
        expected = USER_NOT_FOUND if user is None else USER_DELETED if user.deleted else user
        assert by_column.of(position) is expected
        assert by_value.of(position) is expected


@SETTINGS
@given(
    ids=st.lists(st.sampled_from(["u0", "u1", "u2", "u3"]), unique=True, max_size=4),
    memberships=st.lists(
        st.tuples(st.sampled_from(["Alpha", "Beta", "Gamma"]), st.sampled_from(["u0", "u1", "u2", "u3", "ghost"]))
    ),
)
def test_joining_a_snapshot_s_memberships_at_once_is_joining_them_one_by_one(ids, memberships):
    at_once, one_by_one = Roster.build([User(i) for i in ids]), Roster.build([User(i) for i in ids])
    at_once.join_all(memberships)
    for team, user_id in memberships:
        one_by_one.join(user_id, team)
    assert at_once.members == one_by_one.members
    assert {u.id: u.teams for u in at_once.users.values()} == {u.id: u.teams for u in one_by_one.users.values()}
    # A reader folds a user's entries into one: the same users are journalled as having changed teams.
    assert set(at_once.journal.entries) == set(one_by_one.journal.entries)


@SETTINGS
@given(
    # Each type's bound and the size past it, and sizes around them.
    size=st.one_of(
        st.sampled_from([2**7, 2**7 + 1, 2**15, 2**15 + 1]),
        st.integers(1, 300),
        st.integers(32_700, 32_900),
        st.integers(65_500, 66_000),
    ),
    picks=st.lists(st.integers(0, 2**40), max_size=50),
    null_at=st.one_of(st.none(), st.integers(0, 2**40)),
)
def test_a_column_of_codes_in_their_narrowest_type_is_the_column_of_texts(size, picks, null_at):
    """`taken`, encoded with codes of the narrowest type for the dictionary (one to four bytes), is the
    column of the texts named one by one: on both sides of each type's bound."""
    dictionary: list = [f"name-{index}" for index in range(size)]
    if null_at is not None:
        dictionary[null_at % size] = None
    # The largest code always among them: a type too narrow cannot hold it (NumPy refuses to make it).
    codes = np.array([pick % size for pick in picks] + [size - 1], dtype=code_type(size))
    narrower = {np.int16: np.int8, np.int32: np.int16, np.int64: np.int32}.get(code_type(size))
    assert narrower is None or size - 1 > np.iinfo(narrower).max  # and no narrower type would hold them
    expected = [dictionary[code] for code in codes.tolist()]
    assert taken(dictionary, codes, pa.string(), encoded=True).to_pylist() == expected
    assert taken(dictionary, codes, pa.string()).to_pylist() == expected
