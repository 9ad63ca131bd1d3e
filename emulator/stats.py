"""What the emulator has seen, so tests can check calls, retries, request ids and concurrency."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from contracts.models import PROVIDERS

MAX_STREAMS_KEPT = 100


class Stats:
    def __init__(self) -> None:
        self.in_flight: Counter[str] = Counter({p: 0 for p in PROVIDERS})
        self.clear()

    def connection_opened(self) -> None:
        """Count a TCP connection accepted (kept-alive connections serve many calls on one)."""
        self.connections += 1

    def clear(self) -> None:
        """Forget past calls; calls still being answered stay in flight."""
        self.calls: Counter[str] = Counter({p: 0 for p in PROVIDERS})
        self.by_request_id: Counter[str] = Counter()
        # When each streamed chunk left, per request id, so a benchmark can measure how far the
        # progress a client sees trails the provider. Only the most recent streams are kept.
        self.stream_times: dict[str, list[float]] = {}
        self.max_in_flight: Counter[str] = Counter(self.in_flight)
        self.last_body: dict[str, Any] = {p: None for p in PROVIDERS}
        self.connections = 0

    def record_call(self, provider: str, request_id: str | None, body: Any) -> None:
        self.calls[provider] += 1
        if request_id:
            self.by_request_id[request_id] += 1
        self.last_body[provider] = body

    def chunk_sent(self, request_id: str | None) -> None:
        if not request_id:
            return
        times = self.stream_times.get(request_id)
        if times is None:
            if len(self.stream_times) >= MAX_STREAMS_KEPT:
                self.stream_times.pop(next(iter(self.stream_times)))
            times = self.stream_times[request_id] = []
        times.append(time.time())

    @contextmanager
    def active(self, provider: str) -> Iterator[None]:
        """Count a call as in flight while it is answered (or hangs)."""
        self.in_flight[provider] += 1
        self.max_in_flight[provider] = max(self.max_in_flight[provider], self.in_flight[provider])
        try:
            yield
        finally:
            self.in_flight[provider] -= 1

    def snapshot(self, faults_pending: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "calls": dict(self.calls),
            "by_request_id": dict(self.by_request_id),
            "faults_pending": faults_pending,
            "in_flight": dict(self.in_flight),
            "max_in_flight": dict(self.max_in_flight),
            "last_body": self.last_body,
            "connections": self.connections,
        }
