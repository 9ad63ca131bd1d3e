"""What happened to a tool call, as the client sees it: the one place outcomes become results.

Everything that happens *to a call* is an :class:`~contracts.job.Outcome`: the tool's result (its
content blocks, or one text block of its text), a tool error (``isError``: bad arguments, limits
on a plain call, the queue down, a deadline, a cancellation, a provider failure — each a text a
person can act on), or a protocol failure (``kind="protocol_error"``), which is answered with a
JSON-RPC error instead. ``input_required`` outcomes are not ends and never reach
:func:`call_result`: the input rounds (``input_state``, ``server_requests``) handle them.
"""

from __future__ import annotations

from typing import Any

from contracts.job import Outcome
from gateway.core.codec import META_CALL, META_CORRELATION
from gateway.core.errors import ProtocolError

META_RETRY_AFTER = "io.exai/retry_after_s"
META_TEXT = "io.exai/text"  # answer text streamed in a progress notification
QUEUE_UNAVAILABLE = "the task queue is unavailable (Redis cannot be reached); retry in a few seconds"


def call_result(outcome: Outcome, correlation_id: str | None = None) -> dict[str, Any]:
    """What ``tools/call`` answers for a complete outcome (either era; the encoder adds resultType)."""
    content = outcome.content if outcome.content is not None else [{"type": "text", "text": outcome.text}]
    result: dict[str, Any] = {"content": content, "isError": outcome.is_error}
    if outcome.structured is not None:
        result["structuredContent"] = outcome.structured
    meta: dict[str, Any] = {META_CALL: outcome.call_id}
    correlation = correlation_id or outcome.meta.get("correlation_id")
    if correlation:
        meta[META_CORRELATION] = correlation
    result["_meta"] = meta
    return result


def error_result(message: str, correlation_id: str | None = None, **meta: Any) -> dict[str, Any]:
    """An ``isError`` result for a call refused or lost before any tool ran."""
    result: dict[str, Any] = {"content": [{"type": "text", "text": message}], "isError": True}
    extra = dict(meta)
    if correlation_id:
        extra[META_CORRELATION] = correlation_id
    if extra:
        result["_meta"] = extra
    return result


class ToolProtocolError(ProtocolError):
    """Raised for a call whose tool ended with a protocol error (its own code, message and data)."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message, data)
        self.code = code
        self.http_status = 400 if -32099 <= code <= -32020 or code in (-32600, -32602) else 200


def protocol_error(outcome: Outcome) -> ToolProtocolError:
    """The JSON-RPC error a ``protocol_error`` outcome is answered with."""
    error = outcome.error or {}
    code = error.get("code")
    if not isinstance(code, int) or isinstance(code, bool):
        code = -32603
    message = error.get("message")
    return ToolProtocolError(code, message if isinstance(message, str) else outcome.text, error.get("data"))


def is_terminal(outcome: Outcome) -> bool:
    return outcome.kind != "input_required"


def call_status(outcome: Outcome) -> tuple[str, str]:
    """(status, error code) of a finished call, for metering."""
    if outcome.error_code == "CANCELLED":
        return "cancelled", "CANCELLED"
    if outcome.is_error:
        return "error", outcome.error_code or "ERROR"
    return "ok", ""


def progress_params(
    token: str | int, value: float, total: float | None, message: str | None, text: str | None = None
) -> dict[str, Any]:
    params: dict[str, Any] = {"progressToken": token, "progress": value}
    if total is not None:
        params["total"] = total
    if message:
        params["message"] = message
    if text:
        params["_meta"] = {META_TEXT: text}  # the answer as it streams; clients may show it
    return params


def log_params(log: dict[str, Any]) -> dict[str, Any] | None:
    """``notifications/message`` params of a tool's log event, or None when it is malformed."""
    level, data = log.get("level"), log.get("data")
    if not isinstance(level, str) or data is None:
        return None
    params: dict[str, Any] = {"level": level, "data": data}
    logger = log.get("logger")
    if isinstance(logger, str) and logger:
        params["logger"] = logger
    return params
