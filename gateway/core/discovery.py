"""What the server offers, said once: the ``initialize`` result (legacy) and ``server/discover`` (modern).

One :class:`Offer` renders both, so the two eras never disagree about what is served. On the
modern side the tasks extension is advertised under ``capabilities.extensions`` (never the 2025
``capabilities.tasks`` slot), ``listChanged`` means "delivered on ``subscriptions/listen``", and
cacheable results carry ``ttlMs``/``cacheScope`` from :data:`CACHE_SCOPES` (never an
``input_required`` one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contracts.version import SERVER_NAME, __version__
from gateway.core.codec import SERVER_INFO, TASKS_EXTENSION
from gateway.core.eras import LATEST_LEGACY, LEGACY_VERSIONS, MODERN_VERSIONS

TITLE = "EX-AI MCP (Kimi & GLM)"
INSTRUCTIONS = (
    "Tools backed by Kimi (Moonshot) and GLM (Zhipu) models. Long calls report progress when you "
    "send a progressToken, and can be cancelled; long tools answer with a task when you declare "
    "the io.modelcontextprotocol/tasks extension."
)

# Cacheable methods (2026-07-28 caching) and who may share a cached answer.
CACHE_SCOPES = {
    "server/discover": "public",
    "tools/list": "public",
    "prompts/list": "public",
    "resources/templates/list": "public",
    "resources/list": "private",  # lists the caller's own threads
    "resources/read": "private",
}


@dataclass(frozen=True)
class Offer:
    """The server's identity and capabilities, for both eras."""

    list_ttl_ms: int
    name: str = SERVER_NAME
    title: str = TITLE
    version: str = __version__
    instructions: str = INSTRUCTIONS

    @property
    def server_info(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "version": self.version}

    def initialize_result(self, requested: str) -> dict[str, Any]:
        """The legacy handshake's answer: the requested version if we speak it, else our newest."""
        version = requested if requested in LEGACY_VERSIONS else LATEST_LEGACY
        return {
            "protocolVersion": version,
            "capabilities": {
                "tools": {"listChanged": True},
                "prompts": {"listChanged": True},
                "resources": {"subscribe": True, "listChanged": True},
                "completions": {},
                "logging": {},
                "tasks": {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}},
            },
            "serverInfo": self.server_info,
            "instructions": self.instructions,
        }

    def discover_result(self) -> dict[str, Any]:
        """``server/discover``: versions, capabilities with extensions, identity, cache hints."""
        return {
            "resultType": "complete",
            "supportedVersions": list(MODERN_VERSIONS),
            "capabilities": {
                "tools": {"listChanged": True},
                "prompts": {"listChanged": True},
                "resources": {"listChanged": True},
                "completions": {},
                # Deprecated in 2026, but a server that may send notifications/message declares it.
                "logging": {},
                "extensions": {TASKS_EXTENSION: {}},
            },
            "instructions": self.instructions,
            "ttlMs": self.list_ttl_ms,
            "cacheScope": CACHE_SCOPES["server/discover"],
            "_meta": {SERVER_INFO: self.server_info},
        }

    def cache_hints(self, method: str) -> dict[str, Any] | None:
        """``ttlMs``/``cacheScope`` for a complete result of ``method``, or None if not cacheable."""
        scope = CACHE_SCOPES.get(method)
        if scope is None:
            return None
        ttl = self.list_ttl_ms if scope == "public" else 0  # private data: always re-read
        return {"ttlMs": ttl, "cacheScope": scope}
