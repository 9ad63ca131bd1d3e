"""JSON-RPC 2.0 framing for MCP, with no I/O: text in, typed message out, and back.

MCP sends one message per frame, never a batch; ids are strings or integers (0 included), never
null. Every string a client sends must be valid Unicode: ``"\\ud800"`` is valid JSON but a lone
UTF-16 surrogate cannot be encoded as UTF-8, so it would fail later, far from here (a Redis key, an
answer that cannot be sent). Such strings are refused here, when the frame is decoded, with the
request's id when the id itself is sound.

The per-request ``_meta`` envelope of the 2026 revision (protocol version, client capabilities and
info, log level, trace context) is read once per request into an :class:`Envelope`; frames out are
built from pre-encoded pieces where a result is the same for everyone (list pages).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603

RequestId = str | int
Path = tuple[str | int, ...]

SURROGATE = re.compile("[\ud800-\udfff]")
# After strict UTF-8 decoding a surrogate can only come from a \uXXXX escape of the D800-DFFF range.
_ESCAPES = ("\\ud", "\\uD")
_ESCAPES_BYTES = (b"\\ud", b"\\uD")
_NOT_UNICODE = (
    "{where} holds a lone UTF-16 surrogate (an escape such as \\ud800 without its pair), which is "
    "not valid Unicode; send well-formed strings"
)


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
    if isinstance(value, str):
        return SURROGATE.search(value) is None
    return isinstance(value, int) and not isinstance(value, bool)


def loads(text: str | bytes) -> Any:
    """One JSON text as Python values; bytes must be UTF-8. Raises DecodeError(PARSE_ERROR)."""
    if isinstance(text, bytes):
        try:
            # json.loads would decode bytes with "surrogatepass" and let encoded surrogates in.
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError(PARSE_ERROR, "Parse error: the text is not valid UTF-8") from None
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise DecodeError(PARSE_ERROR, f"Parse error: {exc}"[:200]) from None


def may_hold_surrogates(text: str | bytes) -> bool:
    """False when no string of this (strictly decoded) JSON text can hold a lone surrogate."""
    if isinstance(text, bytes):
        return any(escape in text for escape in _ESCAPES_BYTES)
    return any(escape in text for escape in _ESCAPES)


def lone_surrogate(data: Any) -> Path | None:
    """Where the first string (value or key) holding a lone UTF-16 surrogate is, or None."""
    stack: list[tuple[Path, Any]] = [((), data)]
    while stack:  # no recursion: the parser accepts nesting deeper than a recursive walk could
        path, value = stack.pop()
        if isinstance(value, str):
            if SURROGATE.search(value):
                return path
        elif isinstance(value, dict):
            for key, item in value.items():
                if SURROGATE.search(key):
                    return (*path, key)
                stack.append(((*path, key), item))
        elif isinstance(value, list):
            stack.extend(((*path, index), item) for index, item in enumerate(value))
    return None


def shown(path: Path) -> str:
    """A path of keys and indexes as text that is safe to send and log (surrogates escaped)."""
    text = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(".")
    return (text or "the message").encode("utf-8", "backslashreplace").decode("utf-8")[:200]


def decode(text: str | bytes) -> Message:
    """One frame as a typed message, or DecodeError with the JSON-RPC code and the id if sound."""
    return parse(loads(text), text)


def parse(data: Any, text: str | bytes | None = None) -> Message:
    """A decoded JSON value as a typed message. ``text``, the frame it came from, lets frames that
    cannot hold a lone surrogate skip the walk that looks for one."""
    if isinstance(data, list):
        raise DecodeError(INVALID_REQUEST, "Invalid Request: batches are not supported by MCP")
    if not isinstance(data, dict):
        raise DecodeError(INVALID_REQUEST, "Invalid Request: a message must be a JSON object")
    bad = lone_surrogate(data) if text is None or may_hold_surrogates(text) else None
    raw_id = data.get("id")
    msg_id = raw_id if _valid_id(raw_id) else None
    if data.get("jsonrpc") != "2.0":
        raise DecodeError(INVALID_REQUEST, 'Invalid Request: "jsonrpc" must be "2.0"', msg_id)
    if "id" in data and msg_id is None:
        if isinstance(raw_id, str):
            raise DecodeError(INVALID_REQUEST, f"Invalid Request: {_NOT_UNICODE.format(where='id')}")
        raise DecodeError(INVALID_REQUEST, 'Invalid Request: "id" must be a string or an integer')
    method = data.get("method")
    if method is None and ("result" in data or "error" in data):
        return Response(id=msg_id, result=data.get("result"), error=data.get("error"))
    if bad is not None:
        in_params = bad[0] == "params" and msg_id is not None
        code, kind = (INVALID_PARAMS, "Invalid params") if in_params else (INVALID_REQUEST, "Invalid Request")
        raise DecodeError(code, f"{kind}: {_NOT_UNICODE.format(where=shown(bad))}", msg_id)
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


def is_finite_number(value: Any) -> bool:
    """True for JSON numbers Python's parser returns as finite ints or floats (not NaN, ±Infinity)."""
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, int) and not isinstance(value, bool)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def dumps(message: Any) -> str:
    """Compact JSON text that is always valid on the wire: no NaN or Infinity (they become null, as
    in JavaScript's JSON.stringify), and no raw lone surrogate (escaped, so UTF-8 can carry it)."""
    try:
        text = json.dumps(message, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:
        text = json.dumps(_finite(message), ensure_ascii=False, separators=(",", ":"))
    if not text.isascii() and SURROGATE.search(text):
        text = json.dumps(_finite(message), separators=(",", ":"))
    return text


def result(msg_id: RequestId, value: dict[str, Any]) -> str:
    return dumps({"jsonrpc": "2.0", "id": msg_id, "result": value})


def error(msg_id: RequestId | None, code: int, message: str, data: Any = None) -> str:
    err: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        err["data"] = data
    return dumps({"jsonrpc": "2.0", "id": msg_id, "error": err})


def notification(method: str, params: dict[str, Any]) -> str:
    return dumps({"jsonrpc": "2.0", "method": method, "params": params})


def result_from_text(msg_id: RequestId, encoded_result: str) -> str:
    """A response frame around a result already encoded as JSON text (a pre-encoded list page)."""
    return f'{{"jsonrpc":"2.0","id":{dumps(msg_id)},"result":{encoded_result}}}'


# --- the 2026 per-request envelope (params._meta) ------------------------------------------------
PROTOCOL_VERSION = "io.modelcontextprotocol/protocolVersion"
CLIENT_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
CLIENT_INFO = "io.modelcontextprotocol/clientInfo"
LOG_LEVEL = "io.modelcontextprotocol/logLevel"
SERVER_INFO = "io.modelcontextprotocol/serverInfo"
SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId"
RELATED_TASK = "io.modelcontextprotocol/related-task"
TASKS_EXTENSION = "io.modelcontextprotocol/tasks"
TRACE_KEYS = ("traceparent", "tracestate", "baggage")
META_CORRELATION = "io.exai/correlation_id"
META_CALL = "io.exai/call_id"
META_PREFER_TASK = "io.exai/preferTask"  # the stdio bridge asks for a task to survive reconnects
CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@dataclass(frozen=True)
class Envelope:
    """What a request's ``params._meta`` says, read once; values are as sent (checked by eras)."""

    present: bool  # params._meta is an object
    modern: bool  # it names a protocol version: the request claims the 2026 era
    version: Any = None
    capabilities: Any = None
    has_capabilities: bool = False
    client_info: Any = None
    log_level: Any = None
    progress_token: str | int | None = None
    bad_progress_token: bool = False  # a NaN/Infinity token, which could never be echoed
    trace: dict[str, str] | None = None
    correlation_id: str | None = None
    prefer_task: bool = False


NO_ENVELOPE = Envelope(present=False, modern=False)


def envelope(params: dict[str, Any]) -> Envelope:
    """The envelope of one request's params (NO_ENVELOPE when there is no ``_meta`` object)."""
    meta = params.get("_meta")
    if not isinstance(meta, dict):
        return NO_ENVELOPE
    token = meta.get("progressToken")
    bad_token = isinstance(token, float) and not math.isfinite(token)
    if isinstance(token, bool) or not isinstance(token, str | int):
        token = None
    trace = {key: value for key in TRACE_KEYS if isinstance(value := meta.get(key), str) and value}
    supplied = meta.get(META_CORRELATION)
    correlation = supplied if isinstance(supplied, str) and CORRELATION_ID.match(supplied) else None
    return Envelope(
        present=True,
        modern=PROTOCOL_VERSION in meta,
        version=meta.get(PROTOCOL_VERSION),
        capabilities=meta.get(CLIENT_CAPABILITIES),
        has_capabilities=CLIENT_CAPABILITIES in meta,
        client_info=meta.get(CLIENT_INFO),
        log_level=meta.get(LOG_LEVEL),
        progress_token=token,
        bad_progress_token=bad_token,
        trace=trace or None,
        correlation_id=correlation,
        prefer_task=meta.get(META_PREFER_TASK) is True,
    )


def request(msg_id: RequestId, method: str, params: dict[str, Any]) -> str:
    """A request of the server's own (a legacy session's elicitation, sampling or roots request)."""
    return dumps({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
