"""Tool specifications: names, schemas and annotations, shared by gateway and workers.

The gateway lists and validates tools from these specs without importing any implementation; the
workers register one Celery task per spec (``contracts.names.task_name``) and a test fails if a spec
has no implementation or an implementation has no spec.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

TOOL_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
# Suffixes that clients of the old daemon appended to tool names to tell servers apart.
LEGACY_SUFFIXES = ("_EXAI-WS", "-EXAI-WS", "_EXAI_WS", "-EXAI_WS")


@dataclass(frozen=True)
class ToolSpec:
    name: str
    title: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    annotations: dict[str, bool] = field(default_factory=dict)

    def to_mcp(self) -> dict[str, Any]:
        """The tool as ``tools/list`` shows it."""
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "inputSchema": self.input_schema,
            "outputSchema": self.output_schema,
            "annotations": {"title": self.title, **self.annotations},
        }


def canonical_tool_name(name: str) -> str:
    """Strip the old clients' server suffix, so ``chat_EXAI-WS`` calls ``chat``."""
    for suffix in LEGACY_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def envelope_schema(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Output schema of every tool: the old JSON envelope, plus tool-specific fields."""
    properties: dict[str, Any] = {
        "status": {"type": "string", "description": "success, error, or a workflow status"},
        "content": {"type": "string", "description": "the answer, as text"},
        "content_type": {"type": "string", "enum": ["text", "markdown", "json"]},
        "metadata": {
            "type": "object",
            "properties": {
                "provider": {"type": ["string", "null"]},
                "model": {"type": ["string", "null"]},
                "usage": {
                    "type": "object",
                    "properties": {
                        "prompt_tokens": {"type": "integer"},
                        "completion_tokens": {"type": "integer"},
                        "total_tokens": {"type": "integer"},
                    },
                },
                "correlation_id": {"type": "string"},
                "attempts": {"type": "integer"},
            },
        },
        "continuation_offer": {
            "type": ["object", "null"],
            "properties": {
                "continuation_id": {"type": "string"},
                "remaining_turns": {"type": "integer"},
            },
        },
    }
    properties.update(extra or {})
    return {
        "type": "object",
        "properties": properties,
        "required": ["status", "content", "metadata"],
    }


_MODEL = {
    "type": "string",
    "minLength": 1,
    "maxLength": 128,
    "description": "Model name (see listmodels), or 'auto' to let the server choose.",
}

CHAT = ToolSpec(
    name="chat",
    title="Chat",
    description=(
        "Ask a Kimi or GLM model a question and get its answer: brainstorming, second opinions, "
        "explanations. Streams progress while the model writes."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "prompt": {"type": "string", "minLength": 1, "description": "The question or request."},
            "model": _MODEL,
            "temperature": {"type": "number", "minimum": 0, "maximum": 2},
            "system_prompt": {"type": "string", "description": "Replaces the default system prompt."},
            "max_tokens": {"type": "integer", "minimum": 1, "description": "Cap on the reply's length."},
        },
        "required": ["prompt"],
        "additionalProperties": False,
    },
    output_schema=envelope_schema(),
    annotations={
        "readOnlyHint": True,
        "destructiveHint": False,
        "idempotentHint": False,
        "openWorldHint": True,
    },
)

LISTMODELS = ToolSpec(
    name="listmodels",
    title="List models",
    description="List the models this server can use, by provider, with their context windows.",
    input_schema={"type": "object", "properties": {}, "additionalProperties": False},
    output_schema=envelope_schema(
        {
            "models": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "provider": {"type": "string"},
                        "context_window": {"type": "integer"},
                        "configured": {"type": "boolean"},
                    },
                    "required": ["name", "provider", "context_window", "configured"],
                },
            }
        }
    ),
    annotations={
        "readOnlyHint": True,
        "destructiveHint": False,
        "idempotentHint": True,
        "openWorldHint": False,
    },
)

VERSION = ToolSpec(
    name="version",
    title="Server version",
    description="Show the server's version, protocol versions and configured providers.",
    input_schema={"type": "object", "properties": {}, "additionalProperties": False},
    output_schema=envelope_schema(
        {"version": {"type": "string"}, "providers": {"type": "array", "items": {"type": "string"}}}
    ),
    annotations={
        "readOnlyHint": True,
        "destructiveHint": False,
        "idempotentHint": True,
        "openWorldHint": False,
    },
)

SPECS: dict[str, ToolSpec] = {spec.name: spec for spec in (CHAT, LISTMODELS, VERSION)}
