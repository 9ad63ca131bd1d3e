"""The chat completion request every peer sends the emulator: exai-mcp's worker's, for a plain
``chat`` call (the tool's system prompt, the prompt, ``max_tokens`` at its default, streamed).

Imported by ``fastmcp_server.py`` inside the peer's own environment, so it imports nothing.
"""

from __future__ import annotations

from typing import Any

SYSTEM_PROMPT = (  # workers/tools/chat.py DEFAULT_SYSTEM_PROMPT
    "You are a senior engineer helping another engineer who works in an AI coding tool. "
    "Answer precisely and concisely; say when you are unsure."
)
MODEL = "kimi-k2.6"  # the default model of "auto"
MAX_TOKENS = 8192  # EXAI_MAX_OUTPUT_TOKENS


def chat_body(prompt: str, model: str = MODEL) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}],
        "stream": True,
        "max_tokens": MAX_TOKENS,
    }
