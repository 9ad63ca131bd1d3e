"""What a tool's answer becomes: the ``Outcome`` of its envelope, its content blocks, its question to
the client (``NeedInput``) or its protocol failure (see contracts.answers for the vocabulary)."""

from __future__ import annotations

import json
import logging
from typing import Any

from contracts.answers import CAPABILITY_OF, NeedInput, ProtocolFailure, Reply, declares, missing_capability
from contracts.job import Job, Outcome

log = logging.getLogger("workers.runner")


def may_ask(job: Job) -> bool:
    """Whether a run of ``job`` can have asked for input: only through a capability it declared."""
    return any(declares(job.client_capabilities, name) for name in CAPABILITY_OF.values())


def outcome_of(job: Job, result: dict[str, Any] | Reply, attempt: int, elapsed: float) -> Outcome:
    """The outcome of a tool that answered: its JSON envelope, or content blocks."""
    if isinstance(result, Reply):
        return Outcome(
            call_id=job.call_id,
            text=result.plain_text(),
            content=list(result.content),
            structured=result.structured,
            is_error=result.is_error,
            error_code="TOOL_ERROR" if result.is_error else None,
            meta={"duration_s": round(elapsed, 4), "attempts": attempt + 1},
        )
    meta = result.setdefault("metadata", {})
    meta.update(correlation_id=job.correlation_id, attempts=attempt + 1)
    return Outcome(
        call_id=job.call_id,
        text=envelope_text(result),
        structured=result,
        meta={
            "provider": meta.get("provider"),
            "model": meta.get("model"),
            "duration_s": round(elapsed, 4),
            "attempts": attempt + 1,
        },
    )


def interim(job: Job, need: NeedInput, attempt: int) -> Outcome:
    """The round's input_required outcome, or -32021 if it asks through what the client lacks."""
    missing = need.missing_capabilities(job.client_capabilities)
    if missing:
        log.warning("tool %s asked for input through %s, which the client did not declare", job.tool, missing)
        return protocol_error(job, missing_capability(missing, f"tool {job.tool!r}"), attempt + 1)
    return Outcome(
        call_id=job.call_id,
        text=need.summary(),
        kind="input_required",
        input_requests=need.requests,
        continuation=need.continuation,
        meta={"round": job.round},
    )


def protocol_error(job: Job, failure: ProtocolFailure, attempts: int) -> Outcome:
    """A call answered with a JSON-RPC error; ``is_error`` too, so older readers see it failed."""
    return Outcome(
        call_id=job.call_id,
        text=failure.message,
        is_error=True,
        error_code="PROTOCOL_ERROR",
        kind="protocol_error",
        error=failure.error(),
        meta={"attempts": attempts},
    )


def envelope_text(result: dict[str, Any]) -> str:
    # The old server answered with one text block holding this JSON envelope; MCP asks for the
    # structured result to be repeated as text too, so one block serves both.
    return json.dumps(result, ensure_ascii=False)
