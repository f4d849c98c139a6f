"""Waits as every command reports them: nearest-rank percentiles, and durations as text.

`rota replay`'s summary, `rota simulate`'s report and anything else that shows
a p50 or p90 goes through `percentile` here; the README's "Percentiles" says
the same in words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def percentile(sorted_values: list[float], percent: float) -> float:
    """Nearest rank: the smallest value with at least `percent`% of the values at or below it.

    NaN for no values. Waits of 1, 2, 3, 4, 5 minutes: p50 is 3 minutes, p90 is 5."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(percent / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass(frozen=True)
class WaitSummary:
    count: int
    p50: float
    p90: float
    maximum: float

    @classmethod
    def of(cls, seconds: list[float]) -> WaitSummary:
        ordered = sorted(seconds)
        return cls(len(ordered), percentile(ordered, 50), percentile(ordered, 90), ordered[-1] if ordered else math.nan)


def duration(seconds: float | None) -> str:
    """`4m05s`, `1h02m00s`; a dash when there is nothing to show."""
    if seconds is None or math.isnan(seconds):
        return "–"
    minutes, seconds = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{seconds:02d}s" if hours else f"{minutes}m{seconds:02d}s"
