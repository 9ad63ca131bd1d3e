"""The peers are asked for the same completion as this project's worker sends."""

from __future__ import annotations

from bench.peers.chat_body import MAX_TOKENS, MODEL, SYSTEM_PROMPT, chat_body
from contracts.settings import Settings
from workers.tools.chat import DEFAULT_SYSTEM_PROMPT


def test_the_peers_body_is_the_workers_for_a_plain_chat_call() -> None:
    """System prompt, default model and max_tokens match the chat tool's defaults; it is streamed."""
    settings = Settings()
    assert SYSTEM_PROMPT == DEFAULT_SYSTEM_PROMPT
    assert settings.kimi_default_model == MODEL
    assert settings.exai_max_output_tokens == MAX_TOKENS
    body = chat_body("hello")
    assert body["stream"] is True
    assert body["messages"] == [
        {"role": "system", "content": DEFAULT_SYSTEM_PROMPT},
        {"role": "user", "content": "hello"},
    ]
