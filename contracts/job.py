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
    # What the client declared it can do (MCP ClientCapabilities: elicitation, sampling, roots,
    # extensions); a tool asks for input only through what is declared here.
    client_capabilities: dict[str, Any] = Field(default_factory=dict)
    # The client's answers to the previous round's input requests, by request key.
    input_responses: dict[str, Any] | None = None
    # What the tool asked to get back with those answers (NeedInput.continuation), opaque to the
    # gateway: sealed in a modern call's requestState, or kept in the task record.
    continuation: dict[str, Any] | None = None
    round: int = Field(default=0, ge=0)  # input rounds before this one (0: the first run)
    log: bool = False  # a client listens for this call's log messages (notifications/message)

    def remaining(self, now: float | None = None) -> float:
        return self.deadline - (time.time() if now is None else now)


OutcomeKind = Literal["complete", "input_required", "protocol_error"]


class Outcome(BaseModel):
    """How a tool call ended: a result, or an error a person can act on — or how one round ended.

    ``kind``: ``complete`` is a result (a tool error too, with ``is_error``); ``protocol_error`` is
    answered with a JSON-RPC error (``error`` holds ``{code, message, data?}``), or a 2026 task's
    ``failed`` + ``error``; ``input_required`` is not an end: the round stopped to ask the client
    (``input_requests``, key -> ``{"method", "params"}``) and wants ``continuation`` back with the
    answers. Interim outcomes are never stored under ``result_key`` (see workers.outcomes).
    """

    call_id: str
    text: str
    structured: dict[str, Any] | None = None
    is_error: bool = False
    error_code: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)
    finished_at: float = Field(default_factory=time.time)  # a task's lastUpdatedAt once terminal
    # MCP content blocks (text, image, audio, resource, resource_link); None: one text block of text.
    content: list[dict[str, Any]] | None = None
    kind: OutcomeKind = "complete"
    error: dict[str, Any] | None = None
    input_requests: dict[str, dict[str, Any]] | None = None
    continuation: dict[str, Any] | None = None


class ProgressEvent(BaseModel):
    """A worker's report that a call moved forward (tokens streamed, step reached)."""

    type: Literal["progress"] = "progress"
    call_id: str
    progress: float
    total: float | None = None
    message: str | None = None
    text: str | None = None  # answer text streamed since the previous report
    # A log message of the tool ({level, logger?, data}), sent only when Job.log; an event with
    # ``log`` set is that message alone: its ``progress`` repeats the last value, it is no new step.
    log: dict[str, Any] | None = None


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
