"""The job payload a gateway enqueues, and the messages a worker sends back.

Kept small and JSON-only: a job names its call by id and carries the validated arguments; the
worker answers on the gateway's reply channel and stores the outcome under the call id so it can be
fetched again (after a reconnect, a gateway restart or a redelivery).
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter


class Job(BaseModel):
    """One ``tools/call``, as it travels through the queue."""

    call_id: str
    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    reply_to: str | None = None  # Redis channel of the gateway waiting for it
    deadline: float  # Unix time after which the call is abandoned
    client: str = "anonymous"  # authenticated identity that made the call
    correlation_id: str
    created_at: float = Field(default_factory=time.time)
    # Whether a client listens for progress; without one the worker publishes none (fewer
    # Redis round trips; heartbeats come from the gateway either way).
    progress: bool = True

    def remaining(self, now: float | None = None) -> float:
        return self.deadline - (time.time() if now is None else now)


class Outcome(BaseModel):
    """How a tool call ended: a result, or an error a person can act on."""

    call_id: str
    text: str
    structured: dict[str, Any] | None = None
    is_error: bool = False
    error_code: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)
    finished_at: float = Field(default_factory=time.time)  # a task's lastUpdatedAt once terminal


class ProgressEvent(BaseModel):
    """A worker's report that a call moved forward (tokens streamed, step reached)."""

    type: Literal["progress"] = "progress"
    call_id: str
    progress: float
    total: float | None = None
    message: str | None = None
    text: str | None = None  # answer text streamed since the previous report


class ResultEvent(BaseModel):
    """A worker's report that a call finished."""

    type: Literal["result"] = "result"
    call_id: str
    outcome: Outcome


_EVENT: TypeAdapter[ProgressEvent | ResultEvent] = TypeAdapter(
    Annotated[ProgressEvent | ResultEvent, Field(discriminator="type")]
)


def decode_event(raw: bytes | str) -> ProgressEvent | ResultEvent:
    """Parse one message from a reply channel."""
    return _EVENT.validate_json(raw)
