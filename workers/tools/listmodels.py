"""``listmodels``: the model catalogue, and which providers have a key."""

from __future__ import annotations

from typing import Any

from workers.context import ToolContext


def run(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    configured = set(ctx.settings.configured_providers())
    models = [
        {
            "name": m.name,
            "provider": m.provider,
            "context_window": m.context_window,
            "configured": m.provider in configured,
        }
        for m in ctx.settings.models()
    ]
    lines = [
        f"- {m['name']} ({m['provider']}, {m['context_window']:,} tokens)"
        + ("" if m["configured"] else " - provider has no API key")
        for m in models
    ]
    return {
        "status": "success",
        "content": "Available models:\n" + "\n".join(lines),
        "content_type": "markdown",
        "metadata": {"provider": None, "model": None},
        "models": models,
    }
