"""The report's part on SPEC 4.1: releases by reason and route, and the time contacts sat with an absent
agent, beside the same desk run with the policy's `reassign` options taken out (the baseline)."""

from __future__ import annotations

from collections import Counter

from rota.vocabulary import ReassignTrigger

from ..waits import WaitSummary, duration
from .measures import SimulationMeasures

RELEASE_COLUMNS = ["route", *ReassignTrigger.texts(), "released"]
COMPARISON_COLUMNS = ["", "with reassign", "without"]


def release_counts(releases: Counter) -> str:
    """`12 (away 8, unanswered 4)`: every release, by reason."""
    by_reason: Counter = Counter()
    for (_, reason), count in releases.items():
        by_reason[reason] += count
    detail = ", ".join(f"{reason} {count:,}" for reason, count in sorted(by_reason.items()))
    return f"{sum(by_reason.values()):,} ({detail})" if detail else "0"


def release_rows(routes: list[str], measures: SimulationMeasures) -> list[list[str]]:
    """Per route whose options fired, in policy order: its releases by reason, and in all."""
    rows = []
    for route in routes:
        counts = [measures.releases[(route, reason)] for reason in ReassignTrigger.texts()]
        if sum(counts):
            rows.append([route, *(f"{count:,}" for count in counts), f"{sum(counts):,}"])
    return rows


def absent_line(measures: SimulationMeasures) -> str:
    """`14 of 420 assigned contacts, p50 4m10s · p90 21m00s · max 48m12s`."""
    held = WaitSummary.of(measures.held_by_absent)
    where = f"{held.count:,} of {len(measures.absent_held):,} assigned contacts"
    if not held.count:
        return where
    return f"{where}, p50 {duration(held.p50)} · p90 {duration(held.p90)} · max {duration(held.maximum)}"


def comparison_rows(measures: SimulationMeasures, baseline: SimulationMeasures) -> list[list[str]]:
    """The same desk with and without the policy's `reassign` options, line by line."""

    def both(what) -> list[str]:
        return [what(measures), what(baseline)]

    def held(part: str):
        return lambda run: duration(getattr(WaitSummary.of(run.held_by_absent), part))

    return [
        ["released", *both(lambda run: release_counts(run.releases))],
        ["contacts that sat with an absent agent", *both(lambda run: f"{len(run.held_by_absent):,}")],
        ["time with an absent agent, p50", *both(held("p50"))],
        ["time with an absent agent, p90", *both(held("p90"))],
        ["time with an absent agent, max", *both(held("maximum"))],
        ["contact-hours with absent agents", *both(lambda run: f"{sum(run.absent_held) / 3600:.1f}")],
        ["time to assignment, p90", *both(lambda run: duration(WaitSummary.of(run.time_to_assignment).p90))],
    ]
