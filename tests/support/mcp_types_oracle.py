"""The MCP maintainers' per-version schema (``mcp-types``, import name ``mcp_types``) as a test oracle.

Unit tests of the protocol core hand every answer they get to these functions, so the schema of
each revision — not our own reading of it — decides whether an answer is well-formed::

    result = core_answer["result"]
    server_result("tools/list", "2026-07-28", result)        # resultType, ttlMs, cacheScope, tools
    server_frame(frame_text, "2025-11-25", method="tools/call")

A failure is an :class:`OracleError` (an ``AssertionError``, so pytest shows it as a failed check)
naming the method, the version and what the schema refused. ``mcp_types`` holds no schema for the
tasks extension (``tasks/*``, ``resultType: "task"``) nor for methods a revision removed (``ping``
on 2026-07-28): :func:`has_schema` tells which pairs it can judge, and the checks raise
:class:`NoSchema` for the others rather than passing them silently.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import mcp_types
from mcp_types import methods
from mcp_types.jsonrpc import MISSING_REQUIRED_CLIENT_CAPABILITY, UNSUPPORTED_PROTOCOL_VERSION
from mcp_types.version import KNOWN_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError

__all__ = [
    "KNOWN_PROTOCOL_VERSIONS",
    "MODERN_PROTOCOL_VERSIONS",
    "NoSchema",
    "OracleError",
    "error_object",
    "has_schema",
    "server_frame",
    "server_notification",
    "server_request",
    "server_result",
]

CORE_RESULT_TYPES = frozenset({"complete", "input_required"})


class OracleError(AssertionError):
    """Raised when an answer does not match the schema of its method and protocol version."""


class NoSchema(OracleError):
    """Raised when ``mcp_types`` has no schema for a method at a version (extension or removed)."""


def has_schema(method: str, version: str, kind: str = "result") -> bool:
    """Whether the oracle can judge ``method`` at ``version``: ``kind`` is result, notification or request."""
    table = {
        "result": methods.SERVER_RESULTS,
        "notification": methods.SERVER_NOTIFICATIONS,
        "request": methods.SERVER_REQUESTS,
    }[kind]
    return (method, version) in table


def server_result(method: str, version: str, result: Mapping[str, Any]) -> dict[str, Any]:
    """Check the result of a client request ``method`` answered at ``version``; return the schema's dump.

    On a modern version a result whose ``resultType`` is not core vocabulary (the tasks
    extension's ``"task"``) is outside the schema: :class:`NoSchema`.
    """
    _known(version)
    if version in MODERN_PROTOCOL_VERSIONS:
        result_type = result.get("resultType")
        if result_type is not None and result_type not in CORE_RESULT_TYPES:
            raise NoSchema(f"{method} at {version}: resultType {result_type!r} belongs to an extension")
    if not has_schema(method, version):
        raise NoSchema(f"mcp_types has no {method!r} result at {version}")
    try:
        return methods.serialize_server_result(method, version, result)
    except ValidationError as exc:
        raise OracleError(f"{method} result at {version} refused by the schema:\n{_short(exc)}") from None


def server_notification(method: str, version: str, params: Mapping[str, Any] | None) -> Any:
    """Check a notification the server sent at ``version``; return the parsed model."""
    _known(version)
    if not has_schema(method, version, "notification"):
        raise NoSchema(f"mcp_types has no {method!r} notification at {version}")
    try:
        return methods.parse_server_notification(method, version, params)
    except ValidationError as exc:
        raise OracleError(f"{method} notification at {version} refused:\n{_short(exc)}") from None


def server_request(method: str, version: str, params: Mapping[str, Any] | None) -> Any:
    """Check a server→client request (``elicitation/create``, ``sampling/createMessage``, ``roots/list``)."""
    _known(version)
    if not has_schema(method, version, "request"):
        raise NoSchema(f"mcp_types has no {method!r} server request at {version}")
    try:
        return methods.parse_server_request(method, version, params)
    except ValidationError as exc:
        raise OracleError(f"{method} request at {version} refused:\n{_short(exc)}") from None


def error_object(error: Mapping[str, Any]) -> mcp_types.ErrorData:
    """Check a JSON-RPC error object; the 2026 errors with mandated data are checked for that data."""
    try:
        parsed = mcp_types.ErrorData.model_validate(error, by_name=False)
        data = error.get("data")
        if parsed.code == UNSUPPORTED_PROTOCOL_VERSION:
            mcp_types.UnsupportedProtocolVersionErrorData.model_validate(data, by_name=False)
        elif parsed.code == MISSING_REQUIRED_CLIENT_CAPABILITY:
            mcp_types.MissingRequiredClientCapabilityErrorData.model_validate(data, by_name=False)
    except ValidationError as exc:
        raise OracleError(f"error object refused by the schema:\n{_short(exc)}") from None
    return parsed


def server_frame(frame: str | bytes | Mapping[str, Any], version: str, *, method: str | None = None) -> Any:
    """Check one JSON-RPC frame from the server: the envelope, then its body for ``version``.

    A response needs ``method`` (the request it answers); a notification or a server request
    carries its own. Returns the parsed result, notification or request.
    """
    message: Any = json.loads(frame) if isinstance(frame, str | bytes) else dict(frame)
    try:
        mcp_types.jsonrpc_message_adapter.validate_python(message, by_name=False)
    except ValidationError as exc:
        raise OracleError(f"not a JSON-RPC 2.0 message:\n{_short(exc)}") from None
    if "method" in message:
        check = server_request if "id" in message else server_notification
        return check(message["method"], version, message.get("params"))
    if "error" in message:
        return error_object(message["error"])
    if method is None:
        raise OracleError("a response frame is checked against the method it answers: pass method=")
    return server_result(method, version, message["result"])


def _known(version: str) -> None:
    if version not in KNOWN_PROTOCOL_VERSIONS:
        raise OracleError(f"{version!r} is not a protocol version mcp_types knows: {KNOWN_PROTOCOL_VERSIONS}")


def _short(exc: ValidationError) -> str:
    return "\n".join(
        f"  {'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in exc.errors()[:10]
    )
