"""Metric events and heartbeats: what gateways and workers tell the monitoring process.

Every process appends small JSON events (a call finished, a provider answered, a retry) to one
capped Redis stream, and refreshes a heartbeat key with a TTL holding its gauges (connections,
calls in flight, memory). The monitor reads both and aggregates them, so the metrics it serves
cover every process on every host. Emission is buffered in memory and flushed in the background:
a call never waits for it, and a Redis outage loses events, never calls.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections import deque
from typing import Any, Literal

import psutil
from pydantic import BaseModel, Field

from contracts.names import EVENTS_STREAM

# Event kinds, and the fields each carries.
REQUEST = "request"  # method, status, duration
CALL = "call"  # tool, status, error, duration, correlation_id, call_id
API = "api"  # provider, model, status, latency, prompt_tokens, completion_tokens
RETRY = "retry"  # provider, reason
ERROR = "error"  # component, error_type
SET_ASIDE = "set_aside"  # tool, handovers, correlation_id: a call answered instead of run again

EVENT_FIELD = "e"  # the one stream field holding an event's JSON

# The request methods metrics name; any other method is counted as "other", so a client cannot
# create series by inventing methods.
MCP_METHODS = frozenset(
    {
        "initialize",
        "ping",
        "tools/list",
        "tools/call",
        "logging/setLevel",
        "server/discover",
        "subscriptions/listen",
        "prompts/list",
        "prompts/get",
        "resources/list",
        "resources/read",
        "resources/templates/list",
        "resources/subscribe",
        "resources/unsubscribe",
        "completion/complete",
        "tasks/get",
        "tasks/result",
        "tasks/list",
        "tasks/cancel",
        "tasks/update",
    }
)


class EventBuffer:
    """Events waiting to be flushed; the oldest are dropped when a flush cannot keep up."""

    def __init__(self, limit: int) -> None:
        self._events: deque[str] = deque(maxlen=limit)
        self._lock = threading.Lock()

    def add(self, kind: str, **fields: Any) -> None:
        fields["k"] = kind
        fields["t"] = round(time.time(), 3)
        self._events.append(json.dumps(fields, separators=(",", ":")))

    def drain(self) -> list[str]:
        with self._lock:
            events = list(self._events)
            self._events.clear()
        return events

    def __len__(self) -> int:
        return len(self._events)


def stream_entries(events: list[str]) -> list[dict[str, str]]:
    """The stream entries (one field each) for a batch of encoded events."""
    return [{EVENT_FIELD: raw} for raw in events]


def decode_event(fields: dict[Any, Any]) -> dict[str, Any] | None:
    """One event read back from the stream, or ``None`` if it is not one of ours."""
    raw = fields.get(EVENT_FIELD) or fields.get(EVENT_FIELD.encode())
    if raw is None:
        return None
    try:
        event = json.loads(raw)
    except ValueError:
        return None
    return event if isinstance(event, dict) and isinstance(event.get("k"), str) else None


class Heartbeat(BaseModel):
    """The gauges one process publishes under its heartbeat key."""

    role: Literal["gateway", "worker"]
    hostname: str
    pid: int
    started_at: float
    updated_at: float = Field(default_factory=time.time)
    rss_bytes: int = 0
    cpu_ratio: float = 0.0  # CPU seconds per wall second since the previous heartbeat
    connections: int = 0  # gateway
    in_flight: int = 0  # gateway: calls awaiting their result
    concurrency: int = 0  # worker: calls it can hold at once
    active: int = 0  # worker: calls running now


class ProcessSampler:
    """Resident memory and CPU use of this process, for heartbeats."""

    def __init__(self) -> None:
        self._process = psutil.Process(os.getpid())
        self._process.cpu_percent(None)  # the first reading only starts the interval
        self.hostname = socket.gethostname()
        self.pid = os.getpid()
        self.started_at = time.time()

    def sample(self) -> tuple[int, float]:
        try:
            return int(self._process.memory_info().rss), self._process.cpu_percent(None) / 100.0
        except psutil.Error:
            return 0, 0.0


__all__ = [
    "API",
    "CALL",
    "ERROR",
    "EVENTS_STREAM",
    "MCP_METHODS",
    "REQUEST",
    "RETRY",
    "SET_ASIDE",
    "EventBuffer",
    "Heartbeat",
    "ProcessSampler",
    "decode_event",
    "stream_entries",
]
