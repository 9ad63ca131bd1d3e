"""Tool specifications: names, schemas and annotations, shared by gateway and workers.

The specs themselves live in ``contracts.tool_specs`` (simple, workflow and provider-specific tools).
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
            # Every call is durable: it may be started as an MCP task (tools/call with params.task).
            "execution": {"taskSupport": "optional"},
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


def _collect() -> dict[str, ToolSpec]:
    # Imported here, not at the top: the spec modules take ToolSpec and envelope_schema from this one.
    from contracts.tool_specs import provider, simple, workflow

    specs = (*simple.SPECS, *workflow.SPECS, *provider.SPECS)
    return {spec.name: spec for spec in specs}


SPECS: dict[str, ToolSpec] = _collect()
