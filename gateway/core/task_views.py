"""A task seen by each API: the 2025-11-25 ``Task`` and the ``io.modelcontextprotocol/tasks`` shapes.

A task is a call: its ``taskId`` is the call id (an unguessable uuid4 hex, also the Celery task id).
Every call has a small :class:`TaskRecord` in Redis (owner, tool, ttl, deadline, input round), so a
task is bound to its caller's identity and survives a gateway restart; its status is read from the
call's outcomes, never kept in the record. The two APIs read one :class:`TaskState` differently:

* 2025-11-25: a tool error (``isError``) is ``failed``; the result comes from ``tasks/result``.
* the 2026 extension: a tool error is ``completed`` with ``result.isError``; a protocol error is
  ``failed`` with ``error``; the result, the error or the pending ``inputRequests`` are inlined in
  ``tasks/get`` (and ``notifications/tasks``); times and intervals are ``ttlMs``/``pollIntervalMs``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field, fields
from typing import Any

from contracts.job import Outcome
from gateway.core.outcomes import call_result

WORKING = "working"
INPUT_REQUIRED = "input_required"
COMPLETED = "completed"
FAILED = "failed"
CANCELLED = "cancelled"
TERMINAL = frozenset({COMPLETED, FAILED, CANCELLED})


@dataclass(frozen=True)
class TaskRecord:
    """What is kept of every call, for its ttl: who made it and how it can go on."""

    task_id: str
    owner: str
    tool: str
    correlation_id: str
    created_at: float
    ttl_ms: int
    deadline: float
    era: str = "legacy"  # the API that created it: legacy, modern or daemon
    round: int = 0  # the input round running (or asking) now
    last_updated: float = 0.0
    # Kept only for calls that may ask for input, so a continuation round can be sent.
    arguments: dict[str, Any] | None = None
    capabilities: dict[str, Any] = field(default_factory=dict)
    log: bool = False

    def dump(self) -> str:
        # Every call writes one: no deep copy of the fields (dataclasses.asdict) on the way.
        return json.dumps({name: getattr(self, name) for name in RECORD_FIELDS}, separators=(",", ":"))

    @classmethod
    def load(cls, raw: bytes | str) -> TaskRecord:
        data = json.loads(raw)
        return cls(**{name: value for name, value in data.items() if name in RECORD_FIELDS})


RECORD_FIELDS = tuple(field.name for field in fields(TaskRecord))


@dataclass(frozen=True)
class TaskState:
    """A record with what its call has said so far."""

    record: TaskRecord
    outcome: Outcome | None = None  # terminal
    interim: Outcome | None = None  # the current round's input_required outcome
    answered: frozenset[str] = frozenset()  # keys of the round already answered (tasks/update)

    @property
    def pending_requests(self) -> dict[str, dict[str, Any]]:
        """Input requests of the current round still waiting for an answer."""
        if self.outcome is not None or self.interim is None:
            return {}
        requests = self.interim.input_requests or {}
        return {key: request for key, request in requests.items() if key not in self.answered}

    def status(self, *, modern: bool) -> str:
        outcome = self.outcome
        if outcome is not None:
            if outcome.error_code == "CANCELLED":
                return CANCELLED
            if modern:
                return FAILED if outcome.kind == "protocol_error" else COMPLETED
            return FAILED if outcome.is_error else COMPLETED
        return INPUT_REQUIRED if self.pending_requests else WORKING

    @property
    def updated_at(self) -> float:
        if self.outcome is not None:
            return self.outcome.finished_at
        if self.interim is not None:
            return max(self.interim.finished_at, self.record.last_updated)
        return self.record.last_updated or self.record.created_at


def iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat().replace("+00:00", "Z")


def legacy_task(state: TaskState, poll_interval_ms: int) -> dict[str, Any]:
    """The 2025-11-25 ``Task`` object."""
    record, outcome = state.record, state.outcome
    status = state.status(modern=False)
    task: dict[str, Any] = {
        "taskId": record.task_id,
        "status": status,
        "createdAt": iso(record.created_at),
        "lastUpdatedAt": iso(state.updated_at),
        "ttl": record.ttl_ms,
        "pollInterval": poll_interval_ms,
    }
    if outcome is None:
        asking = state.pending_requests
        task["statusMessage"] = (
            f"{record.tool}: waiting for the client's answer to {', '.join(asking)}"
            if asking
            else f"{record.tool}: waiting for a worker or running"
        )
    elif status != COMPLETED:
        task["statusMessage"] = outcome.text[:500]
    return task


def _modern_fields(state: TaskState, poll_interval_ms: int) -> dict[str, Any]:
    record = state.record
    return {
        "taskId": record.task_id,
        "status": state.status(modern=True),
        "createdAt": iso(record.created_at),
        "lastUpdatedAt": iso(state.updated_at),
        "ttlMs": record.ttl_ms,
        "pollIntervalMs": poll_interval_ms,
    }


def created_task(state: TaskState, poll_interval_ms: int) -> dict[str, Any]:
    """The flat ``CreateTaskResult`` a task-creating ``tools/call`` answers with."""
    return {"resultType": "task", **_modern_fields(state, poll_interval_ms)}


def detailed_task(state: TaskState, poll_interval_ms: int) -> dict[str, Any]:
    """``tasks/get``'s ``DetailedTask`` (also the params of ``notifications/tasks``)."""
    task = _modern_fields(state, poll_interval_ms)
    outcome = state.outcome
    status = task["status"]
    if outcome is None:
        asking = state.pending_requests
        if asking:
            task["inputRequests"] = asking
            task["statusMessage"] = f"waiting for the client's answer to {', '.join(asking)}"
        else:
            task["statusMessage"] = f"{state.record.tool}: waiting for a worker or running"
    elif status == FAILED:
        error = dict(outcome.error or {"code": -32603, "message": outcome.text})
        task["error"] = error
        task["statusMessage"] = str(error.get("message", outcome.text))[:500]
    elif status == COMPLETED:
        task["result"] = {"resultType": "complete", **call_result(outcome, state.record.correlation_id)}
    else:
        task["statusMessage"] = outcome.text[:500]
    return task
