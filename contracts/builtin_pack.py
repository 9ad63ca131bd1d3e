"""The ``exai`` pack: the service's own tools (specs in ``contracts.tool_specs``), always loaded first.

Its prompts are the tools themselves (every tool is a prompt); its resources — the configured models
and the caller's conversation threads — are served by the gateway, which alone can read them.
"""

from __future__ import annotations

from typing import Any

from contracts.packs import ToolPack
from contracts.tools import SPECS


def _register(app: Any, runner: Any) -> None:
    # Worker processes only: the implementations are imported here, never by a gateway.
    from workers.packs import register_tools
    from workers.tools import IMPLEMENTATIONS

    register_tools(app, runner, IMPLEMENTATIONS)


PACK = ToolPack(name="exai", tools=tuple(SPECS.values()), register=_register)
