"""Label values for metrics, kept to small known sets so no event can create unbounded series."""

from __future__ import annotations

import re

from contracts.errors import RETRYABLE_KINDS
from contracts.events import MCP_METHODS
from contracts.models import PROVIDERS
from contracts.packs import import_packs
from contracts.settings import Settings

OTHER = "other"
TOKEN = re.compile(r"^[A-Za-z0-9_./:-]{1,64}$")
CALL_STATUSES = frozenset({"ok", "error", "cancelled"})
REQUEST_STATUSES = frozenset({"ok", "error"})
COMPONENTS = frozenset({"gateway", "worker", "provider", "tool", "monitor"})
MAX_OPEN_VALUES = 50  # error types and reasons come from code, so a few dozen cover them all


class Bounded:
    """A label that takes known values, or up to ``limit`` well-formed new ones, then ``other``."""

    def __init__(self, known: frozenset[str] | set[str] = frozenset(), limit: int = 0) -> None:
        self._known = set(known)
        self._limit = len(self._known) + limit

    def __call__(self, value: object) -> str:
        if not isinstance(value, str) or not TOKEN.match(value):
            return OTHER
        if value in self._known:
            return value
        if len(self._known) < self._limit:
            self._known.add(value)
            return value
        return OTHER


class Labels:
    """Every bounded label the monitor uses, built once from the settings."""

    def __init__(self, settings: Settings) -> None:
        # The tools of every pack (EXAI_TOOL_PACKS read as gateways and workers read it: specs only).
        packs = import_packs(settings.tool_pack_modules())
        self.tool = Bounded(frozenset(tool.name for entry in packs for tool in entry.pack.tools))
        self.provider = Bounded(frozenset(PROVIDERS))
        self.model = Bounded(frozenset(m.name for m in settings.models()))
        self.call_status = Bounded(CALL_STATUSES)
        self.request_status = Bounded(REQUEST_STATUSES)
        self.component = Bounded(COMPONENTS)
        self.api_status = Bounded(
            frozenset({"ok", "cancelled", "deadline", *RETRYABLE_KINDS}), MAX_OPEN_VALUES
        )
        self.error_type = Bounded(limit=MAX_OPEN_VALUES)
        self.reason = Bounded(frozenset(RETRYABLE_KINDS), MAX_OPEN_VALUES)
        self.method = Bounded(MCP_METHODS | {OTHER})
