"""The old server's result envelope, built in one place for every tool that calls a model."""

from __future__ import annotations

from typing import Any

from workers.model_call import Answer


def answer_envelope(
    answer: Answer,
    content: str,
    offer: dict[str, Any] | None,
    *,
    status: str = "success",
    **extra: Any,
) -> dict[str, Any]:
    reply = answer.reply
    return {
        "status": status,
        "content": content,
        "content_type": "markdown",
        "metadata": answer.metadata(finish_reason=reply.finish_reason),
        "continuation_offer": offer,
        "reasoning_content": reply.reasoning,
        "web_search": reply.web_search,
        **extra,
    }


def local_envelope(content: str, *, status: str = "success", **extra: Any) -> dict[str, Any]:
    """The envelope of a tool that answers without a model."""
    return {
        "status": status,
        "content": content,
        "content_type": "text",
        "metadata": {"provider": None, "model": None},
        **extra,
    }
