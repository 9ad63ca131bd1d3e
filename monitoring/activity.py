"""Recent activity for the dashboard: throughput, error rate, latency percentiles, recent calls.

Kept in memory over a sliding window (``EXAI_DASHBOARD_WINDOW_S``), fed by the same events as the
Prometheus counters. Calls set aside (answered instead of run again after stopping too many
workers) are kept apart, the most recent ones, for the dashboard and the health check.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CallRecord:
    at: float
    tool: str
    status: str
    error: str
    duration: float
    correlation_id: str


@dataclass(frozen=True)
class SetAsideRecord:
    at: float
    tool: str
    handovers: int  # workers the call stopped
    correlation_id: str


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (which must not be empty)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


class Activity:
    def __init__(self, window_s: int, recent: int) -> None:
        self.window_s = window_s
        self.calls: deque[CallRecord] = deque()
        self.recent: deque[CallRecord] = deque(maxlen=recent)
        self.api_errors: dict[str, deque[tuple[float, str]]] = defaultdict(deque)
        self.retries: dict[str, deque[float]] = defaultdict(deque)
        self.last_error: dict[str, str] = {}
        self.set_aside: deque[SetAsideRecord] = deque(maxlen=recent)

    def add_call(self, record: CallRecord) -> None:
        self.calls.append(record)
        self.recent.append(record)

    def add_api_error(self, provider: str, kind: str, at: float) -> None:
        self.api_errors[provider].append((at, kind))
        self.last_error[provider] = kind

    def add_retry(self, provider: str, at: float) -> None:
        self.retries[provider].append(at)

    def add_set_aside(self, record: SetAsideRecord) -> None:
        self.set_aside.append(record)

    def set_aside_since(self, horizon: float) -> list[SetAsideRecord]:
        """The set-aside calls kept that happened at or after ``horizon``, oldest first."""
        return [r for r in self.set_aside if r.at >= horizon]

    def _trim(self, now: float) -> None:
        horizon = now - self.window_s
        while self.calls and self.calls[0].at < horizon:
            self.calls.popleft()
        for errors in self.api_errors.values():
            while errors and errors[0][0] < horizon:
                errors.popleft()
        for retries in self.retries.values():
            while retries and retries[0] < horizon:
                retries.popleft()

    def summary(self, now: float | None = None) -> dict[str, Any]:
        now = time.time() if now is None else now
        self._trim(now)
        calls = list(self.calls)
        errors = sum(1 for c in calls if c.status == "error")
        by_tool: dict[str, list[float]] = defaultdict(list)
        for call in calls:
            by_tool[call.tool].append(call.duration)
        # One point per 10 s bucket over the window, oldest first: calls and errors per minute.
        bucket_s = 10
        buckets = self.window_s // bucket_s
        series = [[0, 0] for _ in range(buckets)]
        for call in calls:
            index = buckets - 1 - int((now - call.at) // bucket_s)
            if 0 <= index < buckets:
                series[index][0] += 1
                series[index][1] += call.status == "error"
        return {
            "window_s": self.window_s,
            "calls": len(calls),
            "errors": errors,
            "throughput_per_min": round(len(calls) * 60 / self.window_s, 2),
            "error_rate": round(errors / len(calls), 4) if calls else 0.0,
            "series": {
                "bucket_s": bucket_s,
                "calls": [s[0] for s in series],
                "errors": [s[1] for s in series],
            },
            "latency": {
                tool: {
                    "count": len(values),
                    "p50": round(percentile(values, 0.5), 3),
                    "p95": round(percentile(values, 0.95), 3),
                }
                for tool, values in sorted(by_tool.items())
            },
            "providers": {
                provider: {
                    "recent_errors": len(self.api_errors.get(provider, ())),
                    "retries": len(self.retries.get(provider, ())),
                    "last_error": self.last_error.get(provider),
                }
                for provider in sorted(set(self.api_errors) | set(self.retries) | set(self.last_error))
            },
            "recent": [
                {
                    "at": c.at,
                    "tool": c.tool,
                    "status": c.status,
                    "error": c.error,
                    "duration_s": round(c.duration, 3),
                    "correlation_id": c.correlation_id,
                }
                for c in reversed(self.recent)
            ],
        }
