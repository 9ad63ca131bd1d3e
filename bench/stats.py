"""Percentiles and summaries, small enough to read at a glance."""

from __future__ import annotations

import statistics


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    index = min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))
    return ordered[index]


def summary(latencies_s: list[float]) -> dict[str, float]:
    return {
        "n": len(latencies_s),
        "p50_ms": round(statistics.median(latencies_s) * 1000, 3),
        "p99_ms": round(percentile(latencies_s, 0.99) * 1000, 3),
        "mean_ms": round(statistics.fmean(latencies_s) * 1000, 3),
    }
