"""``exai call``: call one tool on a running gateway and print its result, with progress on stderr.

On a terminal, progress is one line redrawn in place: elapsed time, a bar when the server gives a
total, and the latest message. Text the server streams in progress notifications
(``_meta["io.exai/text"]``) is written to stdout as it arrives, and the final answer then only adds
what was not streamed yet. Nothing but the answer goes to stdout.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

from cli.rpc import rpc

META_TEXT = "io.exai/text"  # a chunk of the answer, in a progress notification's _meta
BAR_WIDTH = 24


class ProgressLine:
    """Progress on stderr: redrawn in place on a terminal, a plain line now and then elsewhere."""

    def __init__(self, stream: TextIO = sys.stderr, *, every_s: float = 5.0) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.every_s = every_s
        self.started = time.monotonic()
        self.last_line = -every_s
        self.shown = False

    def render(self, progress: float, total: float | None, message: str | None) -> str:
        elapsed = time.monotonic() - self.started
        parts = [f"{elapsed:5.1f} s"]
        if total:
            done = max(0.0, min(1.0, progress / total))
            filled = round(done * BAR_WIDTH)
            parts.append(f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {done:4.0%}")
        parts.append(message or f"progress {progress:g}")
        return "  ".join(parts)

    def update(self, progress: float, total: float | None, message: str | None) -> None:
        line = self.render(progress, total, message)
        if self.tty:
            self.stream.write(f"\r\x1b[K{line[:200]}")
            self.shown = True
        elif time.monotonic() - self.last_line >= self.every_s:
            self.stream.write(line + "\n")
            self.last_line = time.monotonic()
        self.stream.flush()

    def clear(self) -> None:
        if self.tty and self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False


class TextStream:
    """Answer text streamed in progress notifications, written to stdout as it comes."""

    def __init__(self, out: TextIO = sys.stdout) -> None:
        self.out = out
        self.written = ""

    def feed(self, chunk: str) -> None:
        self.out.write(chunk)
        self.out.flush()
        self.written += chunk

    def remainder(self, final: str) -> str | None:
        """What of the final answer is still to print (``None``: nothing was streamed)."""
        if not self.written:
            return None
        return final[len(self.written) :] if final.startswith(self.written) else "\n" + final


async def call_tool(
    url: str,
    token: str | None,
    tool: str,
    arguments: dict[str, Any],
    *,
    timeout: float,
    quiet: bool = False,
    progress: ProgressLine | None = None,
    text: TextStream | None = None,
) -> dict[str, Any]:
    line = None if quiet else (progress or ProgressLine())

    def on_notification(message: dict[str, Any]) -> None:
        if message.get("method") != "notifications/progress":
            return
        params = message["params"]
        chunk = (params.get("_meta") or {}).get(META_TEXT)
        if isinstance(chunk, str) and text is not None:
            if line is not None:
                line.clear()
            text.feed(chunk)
        elif line is not None:
            line.update(float(params.get("progress", 0)), params.get("total"), params.get("message"))

    params = {"name": tool, "arguments": arguments, "_meta": {"progressToken": "cli"}}
    result = await rpc(
        url,
        token,
        "tools/call",
        params,
        timeout=timeout,
        client_name="exai-call",
        on_notification=on_notification,
    )
    if line is not None:
        line.clear()
    return result


def parse_arguments(pairs: list[str], raw_json: str | None) -> dict[str, Any]:
    """``key=value`` pairs (values parsed as JSON when they are JSON) merged over ``--json``."""
    arguments: dict[str, Any] = json.loads(raw_json) if raw_json else {}
    if not isinstance(arguments, dict):
        raise ValueError("--json must be a JSON object")
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"argument {pair!r} is not key=value")
        try:
            arguments[key] = json.loads(value)
        except json.JSONDecodeError:
            arguments[key] = value
    return arguments


def render(result: dict[str, Any]) -> str:
    structured = result.get("structuredContent")
    if isinstance(structured, dict) and isinstance(structured.get("content"), str):
        return str(structured["content"])
    return "\n".join(
        block.get("text", "") for block in result.get("content", []) if block.get("type") == "text"
    )
