"""The dashboard's sliding window: throughput, error rate, percentiles and recent calls."""

from __future__ import annotations

from monitoring.activity import Activity, CallRecord, percentile


def _call(at: float, duration: float, status: str = "ok", tool: str = "chat") -> CallRecord:
    return CallRecord(at=at, tool=tool, status=status, error="", duration=duration, correlation_id=f"c{at}")


def test_percentiles_use_the_nearest_rank() -> None:
    """p50 and p95 of 1..100 are 50 and 95."""
    values = [float(v) for v in range(100, 0, -1)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.95) == 95.0
    assert percentile([3.0], 0.95) == 3.0


def test_summary_counts_only_calls_inside_the_window() -> None:
    """Calls older than the window leave the totals but stay in the recent list."""
    activity = Activity(window_s=60, recent=10)
    activity.add_call(_call(0.0, 1.0))
    activity.add_call(_call(100.0, 2.0))
    activity.add_call(_call(110.0, 4.0, status="error"))
    summary = activity.summary(now=120.0)
    assert summary["calls"] == 2 and summary["errors"] == 1
    assert summary["error_rate"] == 0.5
    assert summary["throughput_per_min"] == 2.0
    assert summary["latency"]["chat"] == {"count": 2, "p50": 2.0, "p95": 4.0}
    assert [c["correlation_id"] for c in summary["recent"]] == ["c110.0", "c100.0", "c0.0"]
    assert sum(summary["series"]["calls"]) == 2 and sum(summary["series"]["errors"]) == 1


def test_provider_errors_and_retries_are_counted_per_provider() -> None:
    """Recent errors and retries per provider, with the latest error class."""
    activity = Activity(window_s=60, recent=10)
    activity.add_api_error("kimi", "rate_limit", 100.0)
    activity.add_api_error("kimi", "quota", 101.0)
    activity.add_retry("kimi", 100.0)
    providers = activity.summary(now=110.0)["providers"]
    assert providers["kimi"] == {"recent_errors": 2, "retries": 1, "last_error": "quota"}
    assert activity.summary(now=1000.0)["providers"]["kimi"]["recent_errors"] == 0
