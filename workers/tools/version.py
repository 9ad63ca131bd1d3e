"""``version``: what is running."""

from __future__ import annotations

import platform
from typing import Any

from contracts.version import SERVER_NAME, __version__
from workers.context import ToolContext


def run(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    providers = list(ctx.settings.configured_providers())
    text = (
        f"{SERVER_NAME} {__version__} (Python {platform.python_version()}); "
        f"providers configured: {', '.join(providers) or 'none'}"
    )
    return {
        "status": "success",
        "content": text,
        "content_type": "text",
        "metadata": {"provider": None, "model": None},
        "version": __version__,
        "providers": providers,
    }
