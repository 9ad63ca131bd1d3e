"""The methods that are about the connection itself: ``initialize``, ``ping``, ``logging/setLevel``
(legacy sessions) and ``server/discover`` (modern requests, and the stdio bridge's probe)."""

from __future__ import annotations

from typing import Any

from contracts.answers import LOG_LEVELS
from gateway.core.codec import Notification
from gateway.core.discovery import Offer
from gateway.core.dispatch import Method, NotificationHandler
from gateway.core.eras import LEGACY_VERSIONS
from gateway.core.errors import InvalidParams
from gateway.core.listeners import Listeners
from gateway.core.peer import LEGACY, Channel, RequestContext


class Lifecycle:
    def __init__(self, offer: Offer, listeners: Listeners) -> None:
        self.offer = offer
        self.listeners = listeners

    def handlers(self) -> dict[str, Method]:
        return {
            "initialize": Method(self.initialize, modern=False),
            "ping": Method(self.ping, modern=False),
            "logging/setLevel": Method(self.set_level, modern=False),
            "server/discover": Method(self.discover, legacy=False),
        }

    def notifications(self) -> dict[str, NotificationHandler]:
        return {"notifications/initialized": self.initialized}

    def initialize(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        requested = params.get("protocolVersion")
        if not isinstance(requested, str):
            raise InvalidParams(
                "Invalid params: protocolVersion must be a string", {"supported": list(LEGACY_VERSIONS)}
            )
        result = self.offer.initialize_result(requested)
        peer = ctx.peer
        first = peer.era is None or not peer.initialized
        peer.era = LEGACY
        peer.version = result["protocolVersion"]
        capabilities = params.get("capabilities")
        peer.capabilities = capabilities if isinstance(capabilities, dict) else {}
        info = params.get("clientInfo")
        peer.client_info = info if isinstance(info, dict) else None
        # Clients may send requests right after the answer, before notifications/initialized.
        peer.initialized = True
        if first:
            self.listeners.add_session(ctx.channel)
        return result

    def initialized(self, channel: Channel, note: Notification) -> None:
        if channel.peer.version is not None:
            channel.peer.initialized = True

    def ping(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {}

    def set_level(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        level = params.get("level")
        if level not in LOG_LEVELS:
            raise InvalidParams(f"Invalid params: level must be one of {', '.join(LOG_LEVELS)}")
        ctx.peer.log_level = str(level)
        return {}

    def discover(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.offer.discover_result()
