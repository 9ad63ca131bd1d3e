"""The params of one ``tools/call``, read and validated with no I/O: a :class:`ToolCall`, or the
refusal the client gets instead.

MCP separates the two kinds of refusal: a malformed request (no tool name, an unknown tool, a bad
``task`` or ``_meta``) is a JSON-RPC error ``-32602``, while arguments that break the tool's schema
are a result with ``isError`` (2025-11-25), except for a task-augmented call, which expects a task
back and gets ``-32602`` too. NaN and ±Infinity are refused wherever they would be kept or echoed:
in arguments (named by validation), as ``_meta.progressToken`` and as ``task.ttl``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from gateway.tool_catalog import ToolCatalog

CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
META_CORRELATION = "io.exai/correlation_id"


class Refused(Exception):
    """Raised when a tools/call cannot be accepted; ``as_result``: answer with an isError result."""

    def __init__(self, message: str, *, as_result: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.as_result = as_result


@dataclass(frozen=True)
class ToolCall:
    tool: str  # the canonical name
    arguments: dict[str, Any]
    task: dict[str, Any] | None  # params.task of a task-augmented call
    progress_token: str | int | None
    correlation_id: str | None  # a well-formed one the client supplied


def read_tool_call(params: dict[str, Any], catalog: ToolCatalog) -> ToolCall:
    """The call ``params`` ask for, or Refused saying what to fix."""
    name = params.get("name")
    if not isinstance(name, str):
        raise Refused("Invalid params: name must be a string")
    spec = catalog.lookup(name)
    if spec is None:
        raise Refused(f"Unknown tool: {name[:128]}")
    arguments = params.get("arguments")
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise Refused("Invalid arguments: arguments must be an object", as_result=True)
    task = params.get("task")
    if task is not None and not isinstance(task, dict):
        raise Refused("Invalid params: task must be an object")
    meta = params.get("_meta")
    meta = meta if isinstance(meta, dict) else {}
    token = meta.get("progressToken")
    # NaN and ±Infinity would be echoed in every progress notification, and kept as a ttl.
    for where, value in (("_meta.progressToken", token), ("task.ttl", (task or {}).get("ttl"))):
        if isinstance(value, float) and not math.isfinite(value):
            raise Refused(f"Invalid params: {where} must be a finite number (JSON has no NaN or Infinity)")
    problems = catalog.argument_errors(spec.name, arguments)
    if problems:
        message = f"Invalid arguments for {spec.name}: " + "; ".join(problems)
        raise Refused(message, as_result=task is None)
    if isinstance(token, bool) or not isinstance(token, str | int):
        token = None
    supplied = meta.get(META_CORRELATION)
    correlation = supplied if isinstance(supplied, str) and CORRELATION_ID.match(supplied) else None
    return ToolCall(spec.name, arguments, task, token, correlation)
