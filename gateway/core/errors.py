"""The protocol error tree: everything that is answered with a JSON-RPC error, in one place.

Handlers raise these anywhere in the core; only the dispatcher turns them into frames (and, on the
modern Streamable HTTP path, into an HTTP status). What happens *to a tool call* is never one of
these: bad arguments, limits on a plain call, provider failures and deadlines are outcomes, sent
as ``isError`` results.
"""

from __future__ import annotations

from typing import Any

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
LIMIT_EXCEEDED = -32000  # implementation-defined: a limit was hit; data.retryAfter says when to retry
SESSION_NOT_FOUND = -32001  # legacy Streamable HTTP only
LEGACY_RESOURCE_NOT_FOUND = -32002  # 2025-11-25; modern answers -32602
HEADER_MISMATCH = -32020
MISSING_CAPABILITY = -32021
UNSUPPORTED_VERSION = -32022


class ProtocolError(Exception):
    """Raised when a request is answered with a JSON-RPC error instead of a result."""

    code = INTERNAL_ERROR
    http_status = 200  # on the modern Streamable HTTP path

    def __init__(self, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data

    def code_for(self, modern: bool) -> int:
        """The JSON-RPC code in the era of the request (only a few codes differ)."""
        del modern
        return self.code


class ParseError(ProtocolError):
    """Raised when a frame is not JSON."""

    code = PARSE_ERROR
    http_status = 400


class InvalidRequest(ProtocolError):
    """Raised when a message is not a valid request (bad envelope, id in use, not initialized)."""

    code = INVALID_REQUEST
    http_status = 400


class MethodNotFound(ProtocolError):
    """Raised when a method is unknown, or removed in the request's era."""

    code = METHOD_NOT_FOUND
    http_status = 404


class InvalidParams(ProtocolError):
    """Raised when a request's params are wrong: unknown tool, task, cursor, tampered state…"""

    code = INVALID_PARAMS
    http_status = 400


class ResourceNotFound(InvalidParams):
    """Raised when a resource URI names nothing the caller may read."""

    def __init__(self, uri: str) -> None:
        super().__init__(f"Resource not found: {uri[:200]}", {"uri": uri[:1000]})

    def code_for(self, modern: bool) -> int:
        return INVALID_PARAMS if modern else LEGACY_RESOURCE_NOT_FOUND


class Internal(ProtocolError):
    """Raised when the service cannot answer (Redis or the queue down) and no tool result can say so."""

    code = INTERNAL_ERROR


class LimitReached(ProtocolError):
    """Raised when a client is over a limit on a request that has no tool result to carry it."""

    code = LIMIT_EXCEEDED

    def __init__(self, message: str, retry_after_s: float, limit: str) -> None:
        super().__init__(message, {"retryAfter": retry_after_s, "limit": limit})


class SessionNotFound(ProtocolError):
    """Raised when a legacy HTTP request names a session this service does not have."""

    code = SESSION_NOT_FOUND
    http_status = 404


class HeaderMismatch(ProtocolError):
    """Raised when Streamable HTTP headers disagree with the body, or a required one is missing."""

    code = HEADER_MISMATCH
    http_status = 400


class MissingCapability(ProtocolError):
    """Raised when a request needs a client capability it did not declare."""

    code = MISSING_CAPABILITY
    http_status = 400

    def __init__(self, message: str, required: dict[str, Any]) -> None:
        super().__init__(message, {"requiredCapabilities": required})


class UnsupportedVersion(ProtocolError):
    """Raised when a request asks for a protocol version this server does not speak."""

    code = UNSUPPORTED_VERSION
    http_status = 400

    def __init__(self, requested: Any, supported: list[str]) -> None:
        shown = requested if isinstance(requested, str) else repr(requested)
        super().__init__("Unsupported protocol version", {"supported": supported, "requested": shown[:64]})
