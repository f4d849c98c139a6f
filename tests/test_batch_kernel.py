"""SPEC 3.4 and 5.1 `batch`: the compiled pass (engine/_kernel.c) held to the Python pass.

The same random rosters, policies and contacts (held ones, sticky routes, caps
that fill up and reopen, routes the kernel leaves to Python in between) go
through both; the output table and all the roster keeps after (counts, turns,
last assignments, cursors, the next turn) must be the same.
"""

from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import MOMENTS, NOW, contacts, contacts_table, policies, roster_of, snapshot_connection, snapshots
from test_routing_properties import LANGUAGE_CHECK, crowded_policies

from rota.dsl.ast import (
    AssignToSpace,
    AssignToTeam,
    AssignToUser,
    BoolOp,
    Compare,
    Field,
    Literal,
    Only,
    Policy,
    Route,
    Using,
)
from rota.engine import Contact, User, batch, compile_policy, run_batch
from rota.engine.batch_kernel import KernelPass, kernel

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_the_kernel_is_built():
    """`pip install -e .` (what `make` runs) compiles it; a pass without it would quietly be Python's."""
    assert kernel is not None, "rota.engine._kernel is not built: a C compiler and the Python headers build it"


def routed(policy, snapshot, items, by_kernel: bool, step: int):
    roster = roster_of(*snapshot)
    steps = {"KERNEL_PASS": by_kernel, "PROGRESS_STEP": step, "BULK_CHECK_STEP": step}
    with mock.patch.multiple(batch, **steps):
        table = run_batch(compile_policy(policy), snapshot_connection(*snapshot), roster, contacts_table(items), NOW)
    after = {u.id: (u.open, u.assigned_order, u.last_assigned_at) for u in roster.users.values()}
    return table, after, roster.cursors, roster.next_order


# Per-pick checks the kernel leaves to Python (one reads the contact, one is not a cap), beside one it takes:
# contacts the kernel covers and contacts it does not come in turn and move the same counts.
CHECKS = (
    LANGUAGE_CHECK,
    Compare("<=", Field("user", "open"), Field("contact", "tier")),
    BoolOp(
        "or",
        Compare("==", Field("user", "last_assigned_at"), Literal(None)),
        Compare("<", Field("user", "open"), Literal(3)),
    ),
)


@SETTINGS
@given(
    snapshot=snapshots(),
    policy=st.one_of(policies(), crowded_policies(), crowded_policies(CHECKS)),
    data=st.data(),
    step=st.sampled_from([1, 3, batch.BULK_CHECK_STEP]),  # small steps: many switches, closed sets queued in bulk
)
def test_the_kernel_pass_is_the_python_pass(snapshot, policy, data, step):
    items = data.draw(contacts([person.id for person in snapshot[0]], max_size=40))
    by_kernel = routed(policy, snapshot, items, True, step)
    by_python = routed(policy, snapshot, items, False, step)
    assert by_kernel[0].equals(by_python[0])
    assert by_kernel[1:] == by_python[1:]


def test_a_pass_of_covered_contacts_runs_in_the_kernel_alone():
    """Caps-only team and space routes and a sticky route: no contact goes the Python way."""
    attributes = {"skills": [], "languages": None, "level": None}
    people = [
        User(f"u{index}", open=index % 3, last_assigned_at=MOMENTS[index % 3], attributes=attributes)
        for index in range(6)
    ]
    snapshot = (people, [("Alpha", "u1"), ("Alpha", "u4")], {"*": "u2"})
    last_agent = Field("contact", "last_agent")
    cap = Only(Compare("<", Field("user", "open"), Literal(4)))
    policy = Policy(
        routes=(
            Route("back", Compare("!=", last_agent, Literal(None)), AssignToUser(last_agent)),
            Route(
                "vip",
                Compare("==", Field("contact", "tier"), Literal(3)),
                AssignToTeam("Alpha"),
                (Using("least_open"), cap),
            ),
            Route("rest", None, AssignToSpace(), (Using("round_robin"), cap)),
        )
    )
    items = [
        Contact(
            f"c{i}",
            "u0" if i % 5 == 0 else None,
            {"language": None, "tags": None, "tier": i % 4, "last_agent": "u3" if i % 7 == 0 else None},
        )
        for i in range(40)
    ]
    with mock.patch.object(
        batch._Batch, "_assign_in_order", side_effect=AssertionError("a contact went the Python way")
    ):
        with mock.patch.object(KernelPass, "run", autospec=True, side_effect=KernelPass.run) as kernel_runs:
            by_kernel = routed(policy, snapshot, items, True, batch.BULK_CHECK_STEP)
    assert kernel_runs.called
    assert by_kernel[0].equals(routed(policy, snapshot, items, False, batch.BULK_CHECK_STEP)[0])
