"""The two eras of MCP and how a request is told apart: the handshake (legacy) or its envelope (modern).

* **Legacy** (2025-11-25, 2025-06-18): a connection ``initialize``s once; its requests carry no
  version of their own and are served with the session's capabilities and log level.
* **Modern** (2026-07-28): no handshake; every request's ``params._meta`` carries its protocol
  version and client capabilities (and optionally client info and log level).

A stream (a WebSocket, the stdio bridge) is decided by its first request, as the spec and ``mcp``
2.x do: ``initialize`` makes it legacy, a request with a modern envelope (or ``server/discover``,
the stdio probe) makes it modern; a later claim of the other era is refused. Streamable HTTP
decides per POST (the transport presets the era). The modern ladder, first failure wins:
envelope incomplete → -32602; headers disagree with the body → -32020 (HTTP, checked by the
transport's callback); version not one we speak → -32022; then the dispatcher's method check
(unknown or removed → -32601) and the handler's capability check (-32021).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from contracts.answers import LOG_LEVELS
from gateway.core.codec import Envelope, Request, envelope
from gateway.core.errors import InvalidParams, InvalidRequest, UnsupportedVersion
from gateway.core.peer import LEGACY, MODERN, Channel, RequestContext, Sink

MODERN_VERSIONS = ("2026-07-28",)
LATEST_MODERN = MODERN_VERSIONS[-1]
LEGACY_VERSIONS = ("2025-11-25", "2025-06-18")
LATEST_LEGACY = LEGACY_VERSIONS[0]
# What a legacy client may send in MCP-Protocol-Version (2025-03-26 is assumed by clients that
# never negotiated): any other value is a modern request, or an unsupported one.
HEADER_LEGACY_VERSIONS = ("2024-11-05", "2025-03-26", *LEGACY_VERSIONS)

# Methods 2026-07-28 removed: answered -32601 (404 on HTTP) for a modern request, kept for legacy.
REMOVED_IN_MODERN = frozenset(
    {
        "initialize",
        "ping",
        "logging/setLevel",
        "resources/subscribe",
        "resources/unsubscribe",
        "tasks/result",
        "tasks/list",
    }
)
# Notifications a modern client may still send out of habit: nothing to do for them.
IGNORED_MODERN_NOTIFICATIONS = frozenset({"notifications/initialized", "notifications/roots/list_changed"})
BEFORE_INITIALIZE = frozenset({"initialize", "ping"})

# Called by the Streamable HTTP transport between the envelope and the version rungs (-32020).
HeaderCheck = Callable[[Request, Envelope], None]


def is_legacy_header(version: str | None) -> bool:
    """Whether an ``MCP-Protocol-Version`` header (or its absence) names a legacy revision."""
    return version is None or version in HEADER_LEGACY_VERSIONS


def classify(
    request: Request,
    channel: Channel,
    sink: Sink,
    header_check: HeaderCheck | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> RequestContext:
    """The context ``request`` is served in, deciding the channel's era if it is still open; a
    :class:`~gateway.core.errors.ProtocolError` when it cannot be served in any."""
    peer = channel.peer
    env = envelope(request.params)
    era = peer.era
    if era is None:
        era = MODERN if env.modern or request.method == "server/discover" else LEGACY
    if era == MODERN:
        if request.method == "initialize" and not env.modern:
            # A legacy handshake on a modern stream: name what we speak, so the client can re-probe.
            # (With a modern envelope it is a removed method: -32601 from the dispatcher.)
            raise UnsupportedVersion(request.params.get("protocolVersion"), list(MODERN_VERSIONS))
        context = _modern(request, env, channel, sink, header_check)
        peer.era = MODERN  # the ladder passed: the stream is modern from now on
        context.started = clock()
        return context
    if env.modern:
        raise InvalidRequest(
            "Invalid Request: this connection initialized a 2025 session; a request with a 2026-07-28 "
            "_meta envelope needs a new connection"
        )
    if not peer.initialized and request.method not in BEFORE_INITIALIZE:
        raise InvalidRequest("Invalid Request: the session is not initialized; send initialize first")
    if env.bad_progress_token:
        raise InvalidParams(
            "Invalid params: _meta.progressToken must be a finite number (JSON has no NaN or Infinity)"
        )
    return RequestContext(
        peer=peer,
        channel=channel,
        sink=sink,
        request_id=request.id,
        method=request.method,
        modern=False,
        version=peer.version or LATEST_LEGACY,
        capabilities=peer.capabilities,
        log_level=None,
        progress_token=env.progress_token,
        trace=env.trace,
        correlation_id=env.correlation_id,
        started=clock(),
    )


def _modern(
    request: Request, env: Envelope, channel: Channel, sink: Sink, header_check: HeaderCheck | None
) -> RequestContext:
    if not env.modern or not env.has_capabilities:
        missing = [
            name
            for name, present in (
                ("protocolVersion", env.modern),
                ("clientCapabilities", env.has_capabilities),
            )
            if not present
        ]
        raise InvalidParams(
            "Invalid params: params._meta must hold "
            + " and ".join(f"io.modelcontextprotocol/{name}" for name in missing)
            + " (every 2026-07-28 request carries its version and client capabilities)"
        )
    if header_check is not None:
        header_check(request, env)
    if not isinstance(env.version, str):
        raise InvalidParams("Invalid params: _meta io.modelcontextprotocol/protocolVersion must be a string")
    if env.version not in MODERN_VERSIONS:
        raise UnsupportedVersion(env.version, list(MODERN_VERSIONS))
    if not isinstance(env.capabilities, dict):
        raise InvalidParams(
            "Invalid params: _meta io.modelcontextprotocol/clientCapabilities must be an object"
        )
    if env.log_level is not None and env.log_level not in LOG_LEVELS:
        raise InvalidParams(
            f"Invalid params: _meta io.modelcontextprotocol/logLevel must be one of {', '.join(LOG_LEVELS)}"
        )
    if env.bad_progress_token:
        raise InvalidParams(
            "Invalid params: _meta.progressToken must be a finite number (JSON has no NaN or Infinity)"
        )
    return RequestContext(
        peer=channel.peer,
        channel=channel,
        sink=sink,
        request_id=request.id,
        method=request.method,
        modern=True,
        version=env.version,
        capabilities=env.capabilities,
        log_level=env.log_level,
        progress_token=env.progress_token,
        trace=env.trace,
        correlation_id=env.correlation_id,
        prefer_task=env.prefer_task,
    )


def declares(capabilities: Mapping[str, Any], name: str) -> bool:
    """Whether a client capability (``sampling``, ``elicitation``, ``roots``) is declared."""
    return isinstance(capabilities.get(name), Mapping)


def declares_extension(capabilities: Mapping[str, Any], extension: str) -> bool:
    extensions = capabilities.get("extensions")
    return isinstance(extensions, Mapping) and isinstance(extensions.get(extension), Mapping)
