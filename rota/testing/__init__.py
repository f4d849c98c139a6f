"""rota.testing: hypothesis strategies and property checks for your own pytest suites.

    from hypothesis import given, settings
    from rota.testing import check_run, runs, vocabulary

    POLICY = rota.compile_policy_file("desk.rota")

    @settings(max_examples=200)
    @given(run=runs(POLICY))
    def test_desk_routes_by_the_book(run):
        check_run(run)  # raises PropertyViolation, with the decision and candidates, on any breach

A `Run` is a snapshot, an event log and the decisions the engine made;
`run_engine` makes one, `Run.write` saves it as files `rota replay` reads.
Every check reads only the run, through an independent model of the spec.
"""

from .model import Finding
from .properties import (
    PROPERTIES,
    ConservationViolation,
    DeadlinesViolation,
    EligibilityViolation,
    LeastOpenViolation,
    Property,
    PropertyViolation,
    QueueOrderViolation,
    ReleasesViolation,
    RoundRobinBalanceViolation,
    RoundRobinTurnsViolation,
    check_conservation,
    check_deadlines,
    check_eligibility,
    check_least_open,
    check_queue_order,
    check_releases,
    check_round_robin_balance,
    check_round_robin_turns,
    check_run,
)
from .run import EngineState, ReplayFiles, Run, Snapshot, UserRecord, event_record, run_engine, write_events
from .strategies import (
    Attribute,
    EventLog,
    Vocabulary,
    contacts_for,
    event_logs,
    runs,
    snapshots,
    vocabulary,
)

__all__ = [
    "PROPERTIES",
    "Attribute",
    "ConservationViolation",
    "DeadlinesViolation",
    "EligibilityViolation",
    "EngineState",
    "EventLog",
    "Finding",
    "LeastOpenViolation",
    "Property",
    "PropertyViolation",
    "QueueOrderViolation",
    "ReleasesViolation",
    "ReplayFiles",
    "RoundRobinBalanceViolation",
    "RoundRobinTurnsViolation",
    "Run",
    "Snapshot",
    "UserRecord",
    "Vocabulary",
    "check_conservation",
    "check_deadlines",
    "check_eligibility",
    "check_least_open",
    "check_queue_order",
    "check_releases",
    "check_round_robin_balance",
    "check_round_robin_turns",
    "check_run",
    "contacts_for",
    "event_logs",
    "event_record",
    "run_engine",
    "runs",
    "snapshots",
    "vocabulary",
    "write_events",
]
