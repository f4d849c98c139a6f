"""`rota verify`: the engine's properties on generated runs of a policy, and the policy checks.

Runs are generated from the snapshot's schema and values (or from scratch),
each property is searched for a counterexample with hypothesis (seeded, so a
verify is repeatable), and a failure is shrunk to the smallest snapshot and
event log that still breaks it, then written as files `rota replay` runs.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed

from rota.diagnostics import Diagnostic
from rota.engine import CompiledPolicy, Engine, format_instant

from .policy_checks import (
    ESCALATION,
    IMPOSSIBLE_FILTERS,
    POLICY_CHECKS,
    REASSIGN_BRANCHES,
    SHADOWED_ROUTES,
    STARVED_USERS,
    WAIT_CHAINS,
    PolicyReview,
    finding_line,
)
from .testing.properties import PROPERTIES, Property, PropertyViolation
from .testing.run import EngineFactory, ReplayFiles, Run, Snapshot
from .testing.strategies import Vocabulary, runs, vocabulary
from .wording import plural

DEFAULT_EXAMPLES = 200


@dataclass(frozen=True)
class PropertyResult:
    @property  # before the field named `property`, which would hide the decorator from the type checker
    def passed(self) -> bool:
        return self.failure is None

    property: Property
    failure: PropertyViolation | None = None
    counterexample: Run | None = None
    files: ReplayFiles | None = None


@dataclass(frozen=True)
class CheckResult:
    name: str
    title: str
    findings: tuple[Diagnostic, ...] = ()
    note: str | None = None  # what it saw, when it ran
    skipped: str | None = None  # why it did not run

    @property
    def passed(self) -> bool:
        return self.skipped is None and not self.findings

    @property
    def failed(self) -> bool:
        return bool(self.findings)


@dataclass(frozen=True)
class VerifyReport:
    properties: tuple[PropertyResult, ...]
    checks: tuple[CheckResult, ...]
    runs: int
    seconds: float

    @property
    def failed(self) -> int:
        return sum(not result.passed for result in self.properties) + sum(check.failed for check in self.checks)

    @property
    def skipped(self) -> int:
        return sum(check.skipped is not None for check in self.checks)

    @property
    def passed(self) -> bool:
        """Nothing failed: a skipped check does not fail a verify (nor pass it: the summary counts it)."""
        return not self.failed


def verify(
    policy: CompiledPolicy,
    policy_file: str,
    policy_text: str,
    snapshot: Snapshot | None = None,
    examples: int = DEFAULT_EXAMPLES,
    seed: int = 0,
    max_wait_seconds: int | None = None,
    failures_dir: str | Path = "verify-failures",
    engine_factory: EngineFactory = Engine,
) -> VerifyReport:
    started = time.perf_counter()
    words = vocabulary(policy, snapshot)
    failing, count = _survey(policy, words, examples, seed, engine_factory)
    results = []
    for prop in PROPERTIES:
        if prop.name not in failing:
            results.append(PropertyResult(prop))
            continue
        violation, run = _shrink(prop, policy, words, examples, seed, engine_factory)
        files = run.write(Path(failures_dir) / prop.name, policy_text) if run is not None else None
        results.append(PropertyResult(prop, violation, run, files))
    checks = review_policy(policy, words, snapshot, policy_file, max_wait_seconds, seed)
    return VerifyReport(tuple(results), checks, count, time.perf_counter() - started)


def _has_reassign(policy: CompiledPolicy) -> bool:
    """Generated runs carry `reply` events when a route can be answered in time (SPEC 4.1)."""
    return any(route.route.reassigns for route in policy.routes)


def _settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        database=None,
        deadline=None,
        verbosity=Verbosity.quiet,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )


def _survey(
    policy: CompiledPolicy, words: Vocabulary, examples: int, seed: int, engine_factory: EngineFactory
) -> tuple[set[str], int]:
    """One pass over `examples` generated runs, noting every property that fails on any of them."""
    failing: set[str] = set()
    count = 0

    @_settings(examples)
    @hypothesis_seed(seed)
    @given(run=runs(policy, words, engine_factory, replies=_has_reassign(policy)))
    def survey(run: Run) -> None:
        nonlocal count
        count += 1
        for prop in PROPERTIES:
            try:
                prop.check(run)
            except PropertyViolation:
                failing.add(prop.name)

    survey()
    return failing, count


def _shrink(
    prop: Property, policy: CompiledPolicy, words: Vocabulary, examples: int, seed: int, engine_factory: EngineFactory
) -> tuple[PropertyViolation, Run | None]:
    """Search again for this property alone and let hypothesis shrink the counterexample.

    The last run that failed is the shrunk one: hypothesis replays it last."""
    failures: list[tuple[PropertyViolation, Run]] = []

    @_settings(examples)
    @hypothesis_seed(seed)
    @given(run=runs(policy, words, engine_factory, replies=_has_reassign(policy)))
    def search(run: Run) -> None:
        try:
            prop.check(run)
        except PropertyViolation as violation:
            failures.append((violation, run))
            raise

    try:
        search()
    except PropertyViolation:
        pass
    return failures[-1] if failures else (prop.violation(prop.title, []), None)


def review_policy(
    policy: CompiledPolicy,
    words: Vocabulary,
    snapshot: Snapshot | None,
    policy_file: str,
    max_wait_seconds: int | None,
    seed: int = 0,
) -> tuple[CheckResult, ...]:
    """Every policy check, in POLICY_CHECKS order; one whose option was not given is skipped."""
    review = PolicyReview(policy, words, snapshot, policy_file, seed)
    given = {"--snapshot": snapshot is not None, "--max-wait": max_wait_seconds is not None}
    escalation, longest = review.escalation(max_wait_seconds)
    never_assigning, unread_pools = review.reassign_branches()
    wait_chains, longest_wait = review.wait_chains(max_wait_seconds)
    finders = {
        SHADOWED_ROUTES.name: review.shadowed_routes,
        IMPOSSIBLE_FILTERS.name: review.impossible_filters,
        STARVED_USERS.name: review.starved_users,
        ESCALATION.name: lambda: escalation,
        REASSIGN_BRANCHES.name: lambda: never_assigning,
        WAIT_CHAINS.name: lambda: wait_chains,
    }
    # The longest chains help choose a --max-wait.
    notes = {ESCALATION.name: longest, WAIT_CHAINS.name: longest_wait, REASSIGN_BRANCHES.name: unread_pools}
    results = []
    for check in POLICY_CHECKS:
        note = notes.get(check.name)
        if check.needs is not None and not given[check.needs]:
            why = f"needs {check.needs}" + (f"; {note}" if note else "")
            results.append(CheckResult(check.name, check.title, skipped=why))
        else:
            results.append(CheckResult(check.name, check.title, tuple(finders[check.name]()), note))
    return tuple(results)


# ------------------------------------------------------------------- report


def report_lines(report: VerifyReport, examples_source: str) -> list[str]:
    """One line per property and check (✓ passed, ✗ failed, - skipped), then the counts."""
    lines = [f"{plural(report.runs, 'generated run')} ({examples_source})"]
    for result in report.properties:
        lines.append(f"{'✓' if result.passed else '✗'} {result.property.title}")
        if not result.passed:
            lines += _failure_lines(result)
    for check in report.checks:
        if check.skipped is not None:
            lines.append(f"- {check.title}: skipped ({check.skipped})")
            continue
        note = f" ({check.note})" if check.note else ""
        lines.append(f"{'✗' if check.failed else '✓'} {check.title}{note}")
        lines += [f"    {finding_line(finding)}" for finding in check.findings]
    lines.append(f"{_counts(report)} in {report.seconds:.1f} s")
    return lines


def _counts(report: VerifyReport) -> str:
    """`all 11 passed`, `9 passed, 2 skipped`, `1 failed, 10 passed`."""
    passed = len(report.properties) + len(report.checks) - report.failed - report.skipped
    if not report.failed and not report.skipped:
        return f"all {passed} passed"
    counts = [(report.failed, "failed"), (passed, "passed"), (report.skipped, "skipped")]
    return ", ".join(f"{count} {what}" for count, what in counts if count)


def _failure_lines(result: PropertyResult) -> list[str]:
    lines = ["    " + line for line in str(result.failure).splitlines()]
    run = result.counterexample
    if run is None:
        return lines + ["    (the failure did not recur when searched again)"]
    lines.append(
        f"    smallest counterexample: {plural(len(run.snapshot.users), 'user')}, {plural(len(run.events), 'event')}"
    )
    lines += ["      " + _user_line(run, user) for user in run.snapshot.users]
    lines += [f"      {format_instant(event.at)} {event.type} {_event_fields(event)}" for event in run.ordered_events()]
    if run.until is not None:
        lines.append(f"      until {format_instant(run.until)}")
    files = result.files
    assert files is not None  # written with every counterexample
    lines.append(f"    saved in {files.policy.parent}/; reproduce with:")
    lines.append(f"      {files.replay_command()}")
    return lines


def _user_line(run: Run, user) -> str:
    teams = sorted(team for team, member in run.snapshot.memberships if member == user.id)
    attributes = " ".join(f"{name}={value!r}" for name, value in user.attributes.items())
    return (
        f"user {user.id} {user.status}{' deleted' if user.deleted else ''} open={user.open} teams={teams} {attributes}"
    ).rstrip()


def _event_fields(event) -> str:
    parts = [
        f"{name}={getattr(event, name)}"
        for name in ("contact", "user", "team", "status")
        if getattr(event, name) is not None
    ]
    if event.attrs:
        parts.append(f"attrs={event.attrs}")
    return " ".join(parts)


def clear_failures(directory: str | Path) -> None:
    """Counterexamples of an earlier verify would mislead: each run writes its own."""
    directory = Path(directory)
    if directory.is_dir():
        for prop in PROPERTIES:
            shutil.rmtree(directory / prop.name, ignore_errors=True)
