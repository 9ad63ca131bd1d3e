"""Provider-specific request options: thinking (reasoning) and built-in web search."""

from __future__ import annotations

from typing import Any

# Both providers switch reasoning on or off (no graded budget): "minimal" turns it off, the other
# levels on. Unset leaves the model's own default.
THINKING_OFF = ("minimal",)

KIMI_WEB_SEARCH_TOOL: dict[str, Any] = {
    "type": "builtin_function",
    "function": {"name": "$web_search"},
}
KIMI_WEB_SEARCH_NAME = "$web_search"
GLM_WEB_SEARCH_TOOL: dict[str, Any] = {
    "type": "web_search",
    "web_search": {"enable": True, "search_result": True},
}


def thinking_extra(provider: str, mode: str | None, *, web_search: bool = False) -> dict[str, Any]:
    """Body fields for ``thinking_mode`` on ``provider``."""
    if provider == "kimi" and web_search:
        # Kimi refuses $web_search while thinking is on.
        return {"thinking": {"type": "disabled"}}
    if mode is None:
        return {}
    return {"thinking": {"type": "disabled" if mode in THINKING_OFF else "enabled"}}


def web_search_tools(provider: str) -> list[dict[str, Any]]:
    return [KIMI_WEB_SEARCH_TOOL if provider == "kimi" else GLM_WEB_SEARCH_TOOL]
