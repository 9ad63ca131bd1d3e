"""Tool specifications: names, schemas and annotations, shared by gateway and workers.

The specs themselves live in ``contracts.tool_specs`` (simple, workflow and provider-specific tools).
The gateway lists and validates tools from these specs without importing any implementation; the
workers register one Celery task per spec (``contracts.names.task_name``) and a test fails if a spec
has no implementation or an implementation has no spec.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

TOOL_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
# Suffixes that clients of the old daemon appended to tool names to tell servers apart.
LEGACY_SUFFIXES = ("_EXAI-WS", "-EXAI-WS", "_EXAI_WS", "-EXAI_WS")


TaskSupport = Literal["forbidden", "optional", "required"]


@dataclass(frozen=True)
class ToolSpec:
    """A tool as every process knows it; the last five fields are hints for the gateway's choices.

    ``task_support`` is listed as ``execution.taskSupport`` (every call is durable, so ``optional``
    by default; ``required`` tools are refused with -32021 to clients without the tasks extension).
    ``expected_s`` is a typical duration, for the server-side decision to answer with a task
    (EXAI_TASK_THRESHOLD_S); it applies only when every argument in ``expected_when`` has that value
    (a workflow's final, expert step). ``client_capabilities`` are capabilities every call needs
    (refused with -32021 before it is queued). ``input_before_task``: the first round asks for
    input synchronously, and the task starts with the round that brings the answers.
    """

    name: str
    title: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None = None  # when set, results carry matching structuredContent
    annotations: dict[str, bool] = field(default_factory=dict)
    task_support: TaskSupport = "optional"
    expected_s: float = 0.0
    expected_when: Mapping[str, Any] = field(default_factory=dict)
    client_capabilities: Mapping[str, Any] = field(default_factory=dict)
    input_before_task: bool = False

    def to_mcp(self) -> dict[str, Any]:
        """The tool as ``tools/list`` shows it."""
        listed: dict[str, Any] = {"name": self.name}
        if self.title:
            listed["title"] = self.title
        listed["description"] = self.description
        listed["inputSchema"] = self.input_schema
        if self.output_schema is not None:
            listed["outputSchema"] = self.output_schema
        annotations = {"title": self.title, **self.annotations} if self.title else dict(self.annotations)
        if annotations:
            listed["annotations"] = annotations
        listed["execution"] = {"taskSupport": self.task_support}
        return listed

    def expected_duration(self, arguments: Mapping[str, Any]) -> float:
        """How long a call with ``arguments`` typically runs, in seconds (0: quick)."""
        if all(arguments.get(name) == value for name, value in self.expected_when.items()):
            return self.expected_s
        return 0.0


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
