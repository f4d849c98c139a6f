"""SPEC 3.4 and 5.1 `batch`: the batch's own fast paths held to the plain rule.

The whole batch is held to routing one contact at a time in
test_routing_properties.py; these properties hold each piece it is built of
to the straightforward version, on sequences of steps a pass can take.
"""

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from rota.engine.choice import PassKeys, RisingKeyHeap, least_open
from rota.engine.roster import User
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
