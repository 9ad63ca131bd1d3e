"""How many tokens a text takes, roughly, and whether a prompt fits a model's context window.

Counting exactly would need each provider's tokenizer; an estimate of about four characters per
token is close enough to refuse a prompt that cannot fit before anyone waits for the provider's 400.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from contracts.errors import InvalidArguments
from contracts.models import ModelInfo

CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def message_tokens(messages: Sequence[dict[str, Any]]) -> int:
    total = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            total += estimate_tokens(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and part.get("type") == "text":
                    total += estimate_tokens(str(part.get("text", "")))
                else:
                    total += 1000  # an image costs roughly this much on both providers
        if message.get("tool_calls"):
            total += estimate_tokens(json.dumps(message["tool_calls"]))
        total += 4  # role and separators
    return total


def input_budget(model: ModelInfo, max_output_tokens: int) -> int:
    """Tokens of prompt the model takes while leaving room for the reply."""
    return max(model.context_window - max_output_tokens, model.context_window // 2)


def ensure_fits(model: ModelInfo, messages: Sequence[dict[str, Any]], max_output_tokens: int) -> int:
    """The prompt's estimated size; raises InvalidArguments when it cannot fit the model."""
    used = message_tokens(messages)
    budget = input_budget(model, max_output_tokens)
    if used > budget:
        raise InvalidArguments(
            f"the prompt is about {used:,} tokens but {model.name} takes about {budget:,} "
            f"(context window {model.context_window:,} minus room for the answer): send less "
            "(a shorter prompt, fewer or smaller files) or pick a model with a longer context window"
        )
    return used
