"""`rota diff OLD NEW`: what changes if NEW replaces OLD, on a history both run on.

Both policies run on the same history, each from a fresh roster of the same
snapshot: an event log replayed in memory, or a batch of contacts. The result
holds the static difference of the two policies (rota.diff.static), the
decisions that differ (rota.diff.compare) and the measures of each run
(rota.diff.measures); rota.diff.text writes it for a person or as JSON.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from rota.engine import CompiledPolicy, Roster, load_roster, snapshot_schema
from rota.engine.replay import loaded_state_frozen
from rota.explain import Explanation
from rota.explain.run import RecordedRun
from rota.jobs import PolicyLocation, compile_policy_file, load_snapshot_warning
from rota.storage import Warn, read_contacts, read_events
from rota.vocabulary import HistoryEventType

from .compare import ChangedContact, Comparison, compare_decisions
from .history import BatchHistory, EventHistory, ExportHistory, History
from .measures import RunMeasures, fairness_population, measure_run
from .static import RouteChange, StaticDiff, static_diff


@dataclass(frozen=True)
class PolicyDiff:
    static: StaticDiff
    comparison: Comparison
    old: RunMeasures
    new: RunMeasures
    history: History
    # The first changed contacts' first differing decisions explained: contact -> (under OLD, under NEW),
    # None where that policy made no decision there.
    explained: dict[str, tuple[Explanation | None, Explanation | None]] = field(default_factory=dict)

    @property
    def changed_decisions(self) -> int:
        return self.comparison.changed_decisions

    @property
    def identical(self) -> bool:
        """Nothing differs: neither the policies' routes nor a single decision."""
        return self.static.identical and self.changed_decisions == 0

    def within(self, max_changed: int | None) -> bool:
        """The deploy gate: at most `max_changed` decisions differ (None: no gate)."""
        return max_changed is None or self.changed_decisions <= max_changed


def diff_policies(old: CompiledPolicy, new: CompiledPolicy, history: History, explain_first: int = 0) -> PolicyDiff:
    """Run both policies on the history and compare; explain the first differing decision of the first
    `explain_first` contacts whose fate differs, under each policy."""
    old_run, new_run = history.run(old), history.run(new)
    with loaded_state_frozen():  # both runs' decisions live on: the collector need not walk them again
        population = fairness_population(history, [old_run.decisions, new_run.decisions])
        comparison = compare_decisions(old_run.decisions, new_run.decisions)
        old_measures, new_measures = (
            measure_run(old_run.decisions, population),
            measure_run(new_run.decisions, population),
        )
    first = comparison.changed_contacts[:explain_first]
    old_explained = _explained(history, old, old_run, [(c.contact, c.first_difference) for c in first])
    new_explained = _explained(history, new, new_run, [(c.contact, c.first_difference) for c in first])
    return PolicyDiff(
        static=static_diff(old.policy, new.policy),
        comparison=comparison,
        old=old_measures,
        new=new_measures,
        history=history,
        explained={c.contact: (old_explained.get(c.contact), new_explained.get(c.contact)) for c in first},
    )


def _explained(
    history: History, policy: CompiledPolicy, run: RecordedRun, wanted: list[tuple[str, int]]
) -> dict[str, Explanation]:
    """Each wanted contact's decision of that occurrence (0: its first) in the run, explained."""
    occurrences = dict(wanted)
    seen: Counter[str] = Counter()
    positions: dict[int, str] = {}
    for position, decision in enumerate(run.decisions):
        if decision.contact in occurrences:
            if seen[decision.contact] == occurrences[decision.contact]:
                positions[position] = decision.contact
            seen[decision.contact] += 1
    if not positions:
        return {}
    explanations = history.explain(policy, run, sorted(positions))
    return {positions[explanation.seq]: explanation for explanation in explanations if explanation.seq in positions}


def diff_export(
    old: PolicyLocation, new: PolicyLocation, export: str | Path, until: datetime | None = None, explain_first: int = 0
) -> PolicyDiff:
    """`rota diff --export DIR`: both policies run from the state a `rota export` folder starts at,
    through its events up to `until` (default: the window's end)."""
    history = ExportHistory.read(export, until)
    return diff_policies(compile_policy_file(old), compile_policy_file(new), history, explain_first)


def diff_files(
    old: PolicyLocation,
    new: PolicyLocation,
    snapshot_dir: str | Path,
    events: str | Path | None = None,
    contacts: str | Path | None = None,
    now: datetime | None = None,
    until: datetime | None = None,
    warn: Warn | None = None,
    explain_first: int = 0,
) -> PolicyDiff:
    """`rota diff`: both policies checked against the snapshot, then run on its event log
    (`events`, up to `until`; an export's `policy` lines passed by) or its batch of contacts
    (`contacts`, at `now`); `explain_first` as `diff_policies`."""
    from rota.engine.replay import load_events

    snapshot = load_snapshot_warning(snapshot_dir, warn)
    schema = snapshot_schema(snapshot.connection)
    old_policy, new_policy = compile_policy_file(old, schema), compile_policy_file(new, schema)

    def start() -> Roster:
        return load_roster(snapshot.connection)

    history: History
    if events is not None:
        records = [record for record in read_events(events) if record["type"] != HistoryEventType.POLICY]
        history = EventHistory(start, load_events(records, str(events)), until)
    elif contacts is not None and now is not None:
        history = BatchHistory(start, snapshot.connection, read_contacts(contacts), now)
    else:
        raise ValueError("give an event log, or contacts and the time to route them at")
    return diff_policies(old_policy, new_policy, history, explain_first)


__all__ = [
    "BatchHistory",
    "ChangedContact",
    "Comparison",
    "EventHistory",
    "ExportHistory",
    "PolicyDiff",
    "RouteChange",
    "RunMeasures",
    "StaticDiff",
    "diff_export",
    "diff_files",
    "diff_policies",
    "static_diff",
]
