"""``chat``: one question to one model, streamed so progress and cancellation work."""

from __future__ import annotations

from typing import Any

from workers.context import ToolContext
from workers.providers.base import ChatRequest
from workers.routing import resolve_model

DEFAULT_SYSTEM_PROMPT = (
    "You are a senior engineer helping another engineer who works in an AI coding tool. "
    "Answer precisely and concisely; say when you are unsure."
)


def run(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    model = resolve_model(args.get("model"), ctx.settings)
    messages = [
        {"role": "system", "content": args.get("system_prompt") or DEFAULT_SYSTEM_PROMPT},
        {"role": "user", "content": args["prompt"]},
    ]
    request = ChatRequest(
        model=model.name,
        messages=messages,
        temperature=args.get("temperature"),
        max_tokens=min(
            args.get("max_tokens") or ctx.settings.exai_max_output_tokens, ctx.settings.exai_max_output_tokens
        ),
    )
    ctx.check()
    ctx.progress(0, None, f"calling {model.provider}/{model.name}", force=True)

    def on_delta(_text: str, chunks: int) -> None:
        ctx.progress(chunks, None, f"{chunks} chunks streamed from {model.name}")

    reply = ctx.provider(model.provider).chat(
        request,
        request_id=ctx.job.correlation_id,
        deadline=ctx.deadline,
        cancel=ctx.cancel,
        on_delta=on_delta,
    )
    return {
        "status": "success",
        "content": reply.text,
        "content_type": "markdown",
        "metadata": {
            "provider": reply.provider,
            "model": reply.model,
            "usage": {
                "prompt_tokens": reply.usage.prompt_tokens,
                "completion_tokens": reply.usage.completion_tokens,
                "total_tokens": reply.usage.total_tokens,
            },
        },
        "continuation_offer": None,
    }
