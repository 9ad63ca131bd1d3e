"""JSON-RPC 2.0 framing for MCP, with no I/O: text in, typed message out, and back.

MCP sends one message per frame, never a batch; ids are strings or integers (0 included), never
null.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603

RequestId = str | int


@dataclass(frozen=True)
class Request:
    id: RequestId
    method: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Notification:
    method: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Response:
    """A client's answer to a request the server sent (e.g. a ping)."""

    id: RequestId | None
    result: Any = None
    error: Any = None


Message = Request | Notification | Response


class DecodeError(Exception):
    """Raised when a frame is not a valid JSON-RPC message; ``id`` is set when it could be read."""

    def __init__(self, code: int, message: str, id: RequestId | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.id = id


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def decode(text: str | bytes) -> Message:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise DecodeError(PARSE_ERROR, f"Parse error: {exc}"[:200]) from None
    if isinstance(data, list):
        raise DecodeError(INVALID_REQUEST, "Invalid Request: batches are not supported by MCP")
    if not isinstance(data, dict):
        raise DecodeError(INVALID_REQUEST, "Invalid Request: a message must be a JSON object")
    raw_id = data.get("id")
    msg_id = raw_id if _valid_id(raw_id) else None
    if data.get("jsonrpc") != "2.0":
        raise DecodeError(INVALID_REQUEST, 'Invalid Request: "jsonrpc" must be "2.0"', msg_id)
    if "id" in data and not _valid_id(raw_id):
        raise DecodeError(INVALID_REQUEST, 'Invalid Request: "id" must be a string or an integer')
    method = data.get("method")
    if method is None and ("result" in data or "error" in data):
        return Response(id=msg_id, result=data.get("result"), error=data.get("error"))
    if not isinstance(method, str) or not method:
        raise DecodeError(INVALID_REQUEST, 'Invalid Request: "method" must be a non-empty string', msg_id)
    params = data.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        if msg_id is None:
            raise DecodeError(INVALID_REQUEST, 'Invalid Request: "params" must be an object')
        raise DecodeError(INVALID_PARAMS, 'Invalid params: "params" must be an object', msg_id)
    if msg_id is not None:
        return Request(id=msg_id, method=method, params=params)
    return Notification(method=method, params=params)


def _dump(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


def result(msg_id: RequestId, value: dict[str, Any]) -> str:
    return _dump({"jsonrpc": "2.0", "id": msg_id, "result": value})


def error(msg_id: RequestId | None, code: int, message: str, data: Any = None) -> str:
    err: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        err["data"] = data
    return _dump({"jsonrpc": "2.0", "id": msg_id, "error": err})


def notification(method: str, params: dict[str, Any]) -> str:
    return _dump({"jsonrpc": "2.0", "method": method, "params": params})
