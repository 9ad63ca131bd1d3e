"""The old daemon's protocol frames, with no I/O: parsing, refusals and answers.

Frames are JSON objects with an ``op``. One that is not JSON, or not an object, closes the
connection (4000, as the old daemon did: :class:`ProtocolViolation`); one that is an object but
cannot be used as sent, a lone UTF-16 surrogate in any string or a request_id that cannot be echoed
(NaN, ±Infinity, an object), is refused with ``INVALID_REQUEST`` under its request_id when that is
sound (:class:`BadFrame`), and the connection goes on.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from contracts.job import Outcome
from gateway.core import codec

CLOSE_INVALID_JSON = 4000
CLOSE_NO_HELLO = 4002
CLOSE_UNAUTHORIZED = 4003

# Outcome error codes of the new service, as the old protocol names them.
ERROR_CODES = {
    "TIMEOUT": "TIMEOUT",
    "PROVIDER_ERROR": "PROVIDER_ERROR",
    "RETRIES_EXHAUSTED": "PROVIDER_ERROR",
    "PROVIDER_NOT_CONFIGURED": "PROVIDER_ERROR",
    "CANCELLED": "CANCELLED",
    "INVALID_ARGUMENTS": "INVALID_REQUEST",
    "TOOL_NOT_FOUND": "TOOL_NOT_FOUND",
}

Frame = dict[str, Any]


class ProtocolViolation(Exception):
    """Raised when a frame breaks the old protocol so badly that the connection must close."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class BadFrame(Exception):
    """Raised when a frame is a JSON object that cannot be used as sent; it is answered with an
    error naming its ``request_id`` (when that is sound) and the connection goes on."""

    def __init__(self, data: Frame, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        op = data.get("op")
        self.op = op if isinstance(op, str) and not codec.SURROGATE.search(op) else None
        self.request_id = data.get("request_id") if _sound_id(data.get("request_id")) else None


def _sound_id(value: Any) -> bool:
    """A request_id that can be sent back as it came (JSON has no NaN, UTF-8 no lone surrogate)."""
    if isinstance(value, str):
        return codec.SURROGATE.search(value) is None
    if isinstance(value, float):
        return math.isfinite(value)
    return not isinstance(value, dict | list)


def parse(frame: str | bytes) -> Frame:
    """One old-protocol frame as a dict; ProtocolViolation(4000) when it is not a JSON object,
    BadFrame when it is one that cannot be used as sent."""
    try:
        data = codec.loads(frame)
    except codec.DecodeError:
        raise ProtocolViolation(CLOSE_INVALID_JSON, "invalid JSON") from None
    if not isinstance(data, dict):
        raise ProtocolViolation(CLOSE_INVALID_JSON, "a frame must be a JSON object")
    if codec.may_hold_surrogates(frame) and (where := codec.lone_surrogate(data)) is not None:
        raise BadFrame(
            data,
            f"{codec.shown(where)} holds a lone UTF-16 surrogate (an escape such as \\ud800 without "
            "its pair), which is not valid Unicode; send well-formed strings",
        )
    if not _sound_id(data.get("request_id")):
        raise BadFrame(data, "request_id must be a string or a finite number")
    return data


def is_hello(frame: str | bytes) -> bool:
    """True when a connection's first frame opens the old protocol."""
    try:
        return parse(frame).get("op") == "hello"
    except BadFrame as exc:
        return exc.op == "hello"
    except ProtocolViolation:
        return False


def dump(frame: Frame) -> str:
    return codec.dumps(frame)


def error_frame(request_id: Any, code: str, message: str, *, op: str = "error", **extra: Any) -> Frame:
    error: Frame = {"code": code, "message": message, **extra}
    frame: Frame = {"op": op, "request_id": request_id, "error": error}
    if op == "call_tool_res":
        frame.update(outputs=[], text=message)
    return frame


def result_frame(request_id: str | int, outcome: Outcome) -> Frame:
    frame: Frame = {
        "op": "call_tool_res",
        "request_id": request_id,
        "outputs": [{"type": "text", "text": outcome.text}],
        "text": outcome.text,
    }
    if outcome.is_error:
        code = ERROR_CODES.get(outcome.error_code or "", outcome.error_code or "PROVIDER_ERROR")
        frame["error"] = {"code": code, "message": outcome.text}
    return frame


def hello_identity(
    hello: Frame, handshake_identity: str | None, identify: Callable[[str], str | None]
) -> str | None:
    """Who a hello authenticates: its token if it has one, else the handshake's identity."""
    token = hello.get("token")
    if isinstance(token, str) and token:
        return identify(token)
    return handshake_identity
