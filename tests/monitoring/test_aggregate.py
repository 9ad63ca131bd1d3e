"""Events from gateways and workers become Prometheus series and dashboard activity."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from contracts import events
from contracts.settings import load_settings
from monitoring.activity import Activity
from monitoring.aggregate import Aggregator
from monitoring.labels import Labels
from monitoring.metrics import Metrics


def _aggregator() -> Aggregator:
    return Aggregator(Metrics(), Activity(window_s=300, recent=10), Labels(load_settings()))


def _sample(metrics: Metrics, name: str, labels: dict[str, str]) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_call_events_count_by_tool_and_status_and_reach_the_dashboard() -> None:
    """A finished call is a counter, a duration, and a recent call with its correlation id."""
    agg = _aggregator()
    agg.ingest(
        {
            "k": events.CALL,
            "t": 1.0,
            "tool": "chat",
            "status": "ok",
            "duration": 0.5,
            "correlation_id": "abc-1",
            "call_id": "f" * 32,
            "error": "",
        }
    )
    agg.ingest(
        {
            "k": events.CALL,
            "tool": "chat",
            "status": "error",
            "duration": 1.5,
            "correlation_id": "abc-2",
            "error": "PROVIDER_ERROR",
        }
    )
    m = agg.metrics
    assert _sample(m, "mcp_tool_calls_total", {"tool": "chat", "status": "ok"}) == 1
    assert _sample(m, "mcp_tool_calls_total", {"tool": "chat", "status": "error"}) == 1
    assert _sample(m, "mcp_tool_call_duration_seconds_count", {"tool": "chat"}) == 2
    assert _sample(m, "mcp_errors_total", {"component": "tool", "error_type": "PROVIDER_ERROR"}) == 1
    assert [c.correlation_id for c in agg.activity.recent] == ["abc-1", "abc-2"]


def test_api_events_count_calls_latency_and_tokens() -> None:
    """A provider call adds to calls, latency and both token counters."""
    agg = _aggregator()
    agg.ingest(
        {
            "k": events.API,
            "provider": "glm",
            "model": "glm-4.6",
            "status": "ok",
            "latency": 2.0,
            "prompt_tokens": 12,
            "completion_tokens": 30,
        }
    )
    m = agg.metrics
    assert _sample(m, "mcp_api_calls_total", {"provider": "glm", "model": "glm-4.6", "status": "ok"}) == 1
    assert _sample(m, "mcp_api_latency_seconds_sum", {"provider": "glm", "model": "glm-4.6"}) == 2.0
    assert _sample(m, "mcp_tokens_total", {"provider": "glm", "model": "glm-4.6", "type": "prompt"}) == 12
    assert _sample(m, "mcp_tokens_total", {"provider": "glm", "model": "glm-4.6", "type": "completion"}) == 30


def test_malformed_events_are_counted_safely_without_new_series() -> None:
    """Bad fields fall back to `other` and zero; nothing raises."""
    agg = _aggregator()
    agg.ingest(
        {"k": events.CALL, "tool": "x" * 500, "status": 7, "duration": "slow", "correlation_id": "a b"}
    )
    agg.ingest({"k": events.RETRY, "provider": None, "reason": "rate_limit"})
    agg.ingest({"k": "unknown-kind"})
    m = agg.metrics
    assert _sample(m, "mcp_tool_calls_total", {"tool": "other", "status": "other"}) == 1
    assert _sample(m, "mcp_retries_total", {"provider": "other", "reason": "rate_limit"}) == 1
    assert agg.activity.recent[0].correlation_id == "-"
    assert _sample(m, "mcp_monitor_events_total", {}) == 3


def test_the_exposition_passes_promtool() -> None:
    """Every series the monitor can serve is valid Prometheus text."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not installed (Debian package `prometheus`; .ci/run installs it)")
    agg = _aggregator()
    agg.ingest({"k": events.REQUEST, "method": "initialize", "status": "ok", "duration": 0.001})
    agg.ingest({"k": events.ERROR, "component": "gateway", "error_type": "queue_unavailable"})
    text = agg.metrics.render()
    checked = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_set_aside_call_is_counted_by_tool_and_kept_for_the_dashboard() -> None:
    """The worker's event becomes mcp_calls_set_aside_total{tool} and a record with its correlation id."""
    agg = _aggregator()
    agg.ingest({"k": events.SET_ASIDE, "t": 5.0, "tool": "chat", "handovers": 3, "correlation_id": "p-1"})
    agg.ingest({"k": events.SET_ASIDE, "tool": "no-such-tool", "handovers": "x", "correlation_id": "a b"})
    m = agg.metrics
    assert _sample(m, "mcp_calls_set_aside_total", {"tool": "chat"}) == 1
    assert _sample(m, "mcp_calls_set_aside_total", {"tool": "other"}) == 1
    first, second = agg.activity.set_aside
    assert (first.at, first.tool, first.handovers, first.correlation_id) == (5.0, "chat", 3, "p-1")
    assert (second.tool, second.handovers, second.correlation_id) == ("other", 0, "-")
