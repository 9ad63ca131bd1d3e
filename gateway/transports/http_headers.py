"""Streamable HTTP request headers of the 2026-07-28 revision, checked against the body (SEP-2243).

Every modern POST carries ``MCP-Protocol-Version`` (equal to the body's
``_meta["io.modelcontextprotocol/protocolVersion"]``) and ``Mcp-Method`` (the body's method); the
methods that name something carry ``Mcp-Name`` too: ``params.name`` for ``tools/call`` and
``prompts/get``, ``params.uri`` for ``resources/read``, ``params.taskId`` for the tasks methods. A
value outside plain ASCII travels as ``=?base64?…?=`` and is decoded before comparing; values are
compared case-sensitively after trimming surrounding whitespace (RFC 9110 OWS). Any missing,
malformed or mismatching header is ``HeaderMismatch`` (-32020, HTTP 400), so an intermediary
routing on a header can never act on something the server does not. No tool here declares
``x-mcp-header`` parameters, so no ``Mcp-Param-*`` header is recognised (and none is required).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping

from gateway.core.codec import Envelope, Request
from gateway.core.eras import HeaderCheck
from gateway.core.errors import HeaderMismatch

VERSION_HEADER = "MCP-Protocol-Version"
METHOD_HEADER = "Mcp-Method"
NAME_HEADER = "Mcp-Name"
NAME_SOURCES = {
    "tools/call": "name",
    "prompts/get": "name",
    "resources/read": "uri",
    "tasks/get": "taskId",
    "tasks/update": "taskId",
    "tasks/cancel": "taskId",
}
SENTINEL = re.compile(r"^=\?base64\?([A-Za-z0-9+/]*={0,2})\?=$")
UNSAFE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def decoded(value: str) -> str | None:
    """A header value as the body would hold it (the base64 sentinel decoded); None if malformed."""
    value = value.strip(" \t")
    if UNSAFE.search(value):
        return None
    found = SENTINEL.match(value)
    if found is None:
        return value
    try:
        return base64.b64decode(found.group(1), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


def checker(headers: Mapping[str, str]) -> HeaderCheck:
    """The header rung of the modern ladder for one POST's headers (a case-insensitive mapping)."""

    def check(request: Request, env: Envelope) -> None:
        version = headers.get(VERSION_HEADER)
        if version is None:
            raise HeaderMismatch(f"Header mismatch: {VERSION_HEADER} is required on every request")
        if version.strip() != env.version:
            raise HeaderMismatch(
                f"Header mismatch: {VERSION_HEADER} header value {version[:64]!r} does not match the body's "
                f"_meta protocolVersion {str(env.version)[:64]!r}"
            )
        method = headers.get(METHOD_HEADER)
        if method is None:
            raise HeaderMismatch(f"Header mismatch: {METHOD_HEADER} is required on every request")
        if method.strip() != request.method:
            raise HeaderMismatch(
                f"Header mismatch: {METHOD_HEADER} header value {method[:64]!r} does not match the body "
                f"method {request.method[:64]!r}"
            )
        source = NAME_SOURCES.get(request.method)
        if source is None:
            return
        body = request.params.get(source)
        name = headers.get(NAME_HEADER)
        if name is None:
            raise HeaderMismatch(
                f"Header mismatch: {NAME_HEADER} is required on {request.method} (params.{source})"
            )
        if decoded(name) != body:
            raise HeaderMismatch(
                f"Header mismatch: {NAME_HEADER} header value {name[:64]!r} does not match the body value "
                f"params.{source}"
            )

    return check
