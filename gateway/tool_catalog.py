"""Kept for the modules not yet moved to ``gateway.catalog`` (the protocol core switches to it)."""

from __future__ import annotations

from gateway.catalog import Catalog as ToolCatalog
from gateway.catalog import InvalidCursor

__all__ = ["InvalidCursor", "ToolCatalog"]
