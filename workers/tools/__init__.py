"""Tool implementations, one module per tool, each a function of a context and validated arguments.

Each returns the tool's structured result (the envelope of ``contracts.tools.envelope_schema``) or
raises an ``ExaiError``; the runner turns both into an ``Outcome``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from workers.context import ToolContext
from workers.tools import chat, listmodels, version

ToolFunction = Callable[[ToolContext, dict[str, Any]], dict[str, Any]]

IMPLEMENTATIONS: dict[str, ToolFunction] = {
    "chat": chat.run,
    "listmodels": listmodels.run,
    "version": version.run,
}
