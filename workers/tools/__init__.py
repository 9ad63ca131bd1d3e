"""Tool implementations, one module per tool, each a function of a context and validated arguments.

Each returns the tool's structured result (the envelope of ``contracts.tools.envelope_schema``) or
raises an ``ExaiError``; the runner turns both into an ``Outcome``. A tool may also answer with
content blocks (``contracts.answers.Reply``) or ask the client for input (``NeedInput``). The
workflow tools that differ only in prompts are definitions in ``workflows``; the engine they share
is ``workers.workflow``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from contracts.answers import NeedInput, Reply
from workers.context import ToolContext
from workers.tools import (
    challenge,
    chat,
    consensus,
    glm_web_search,
    kimi_chat_with_tools,
    listmodels,
    planner,
    status,
    version,
    workflows,
)

ToolAnswer = dict[str, Any] | Reply | NeedInput
ToolFunction = Callable[[ToolContext, dict[str, Any]], ToolAnswer]

IMPLEMENTATIONS: dict[str, ToolFunction] = {
    "chat": chat.run,
    "challenge": challenge.run,
    "listmodels": listmodels.run,
    "version": version.run,
    "status": status.run,
    "planner": planner.run,
    "consensus": consensus.run,
    "kimi_chat_with_tools": kimi_chat_with_tools.run,
    "glm_web_search": glm_web_search.run,
    **{name: workflows.runner_for(name) for name in workflows.TOOLS},
}
