"""The Prometheus metrics the monitor serves, for the whole service rather than one process.

Counters and histograms are fed by the events every gateway and worker appends to the Redis
stream (see ``monitoring.consumer``); gauges are read from the heartbeats and queues in the latest
snapshot. One monitor therefore reports every process on every host, and several monitors each
report the same totals (scrape any of them).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from monitoring.state import BREAKER_STATES, Snapshot

# LLM calls take from a fraction of a second to many minutes.
CALL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600)
REQUEST_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600)
ROLES = ("gateway", "worker")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        r = self.registry
        self.requests = Counter(
            "mcp_requests", "MCP requests answered, by method and status", ["method", "status"], registry=r
        )
        self.request_duration = Histogram(
            "mcp_request_duration_seconds",
            "Time from an MCP request to its answer",
            ["method"],
            buckets=REQUEST_BUCKETS,
            registry=r,
        )
        self.tool_calls = Counter(
            "mcp_tool_calls", "Tool calls finished, by tool and status", ["tool", "status"], registry=r
        )
        self.tool_duration = Histogram(
            "mcp_tool_call_duration_seconds",
            "Tool call duration at the gateway (queue wait, retries and provider time included)",
            ["tool"],
            buckets=CALL_BUCKETS,
            registry=r,
        )
        self.api_calls = Counter(
            "mcp_api_calls",
            "Provider API calls, by provider, model and status",
            ["provider", "model", "status"],
            registry=r,
        )
        self.api_latency = Histogram(
            "mcp_api_latency_seconds",
            "Provider API call duration (whole streamed answer)",
            ["provider", "model"],
            buckets=CALL_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "mcp_tokens",
            "Tokens used, by provider, model and type",
            ["provider", "model", "type"],
            registry=r,
        )
        self.retries = Counter(
            "mcp_retries",
            "Provider calls retried, by provider and reason",
            ["provider", "reason"],
            registry=r,
        )
        self.errors = Counter(
            "mcp_errors", "Errors, by component and type", ["component", "error_type"], registry=r
        )
        self.calls_set_aside = Counter(
            "mcp_calls_set_aside",
            "Calls answered with SET_ASIDE instead of run again, after stopping too many workers",
            ["tool"],
            registry=r,
        )
        self.events = Counter("mcp_monitor_events", "Metric events read from the stream", registry=r)
        self.snapshot = Snapshot()
        r.register(SnapshotCollector(self))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class SnapshotCollector(Collector):
    """Gauges computed at scrape time from the latest snapshot of Redis."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        snap = self._metrics.snapshot
        yield _gauge("mcp_active_connections", "Open MCP connections on all gateways", snap.connections)
        yield _gauge("mcp_calls_in_flight", "Calls awaiting their result on all gateways", snap.in_flight)
        yield _gauge("mcp_gateways_up", "Gateway processes with a live heartbeat", len(snap.gateways))
        yield _gauge("mcp_workers_up", "Worker processes with a live heartbeat", len(snap.workers))
        yield _gauge(
            "mcp_worker_active_calls", "Calls running on all workers", sum(w.active for w in snap.workers)
        )
        yield _gauge(
            "mcp_worker_concurrency",
            "Calls all workers can hold at once",
            sum(w.concurrency for w in snap.workers),
        )
        length = GaugeMetricFamily("mcp_queue_length", "Calls waiting in a queue", labels=["queue"])
        age = GaugeMetricFamily(
            "mcp_queue_oldest_age_seconds", "Age of the oldest call waiting in a queue", labels=["queue"]
        )
        for queue in snap.queues:
            length.add_metric([queue.name], queue.length)
            age.add_metric([queue.name], queue.oldest_age_s or 0.0)
        yield length
        yield age
        breaker = GaugeMetricFamily(
            "mcp_provider_breaker_state",
            "Circuit breaker state per provider (1 for the current state)",
            labels=["provider", "state"],
        )
        for provider, state in sorted(snap.breakers.items()):
            for name in BREAKER_STATES:
                breaker.add_metric([provider, name], 1.0 if state.state == name else 0.0)
        yield breaker
        processes = GaugeMetricFamily("mcp_processes", "Live service processes by role", labels=["role"])
        memory = GaugeMetricFamily(
            "mcp_process_resident_memory_bytes",
            "Resident memory of all live processes of a role",
            labels=["role"],
        )
        cpu = GaugeMetricFamily(
            "mcp_process_cpu_usage_ratio",
            "CPU seconds per second used by all live processes of a role",
            labels=["role"],
        )
        for role, beats in (("gateway", snap.gateways), ("worker", snap.workers)):
            processes.add_metric([role], len(beats))
            memory.add_metric([role], sum(b.rss_bytes for b in beats))
            cpu.add_metric([role], round(sum(b.cpu_ratio for b in beats), 4))
        yield processes
        yield memory
        yield cpu


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
