"""``chat``: one question to one model, with files, images, web search, thinking and threads."""

from __future__ import annotations

from typing import Any

from workers.context import ToolContext
from workers.conversation import open_conversation
from workers.envelope import answer_envelope
from workers.model_call import Ask, ask, need_of

DEFAULT_SYSTEM_PROMPT = (
    "You are a senior engineer helping another engineer who works in an AI coding tool. "
    "Answer precisely and concisely; say when you are unsure."
)


def run(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    conversation = open_conversation(ctx, args, "chat")
    max_output = min(
        args.get("max_tokens") or ctx.settings.exai_max_output_tokens, ctx.settings.exai_max_output_tokens
    )
    system = args.get("system_prompt") or DEFAULT_SYSTEM_PROMPT
    answer = ask(
        ctx,
        Ask(
            build=conversation.messages_for(system, args["prompt"], max_output),
            model=args.get("model"),
            need=need_of(args),
            temperature=args.get("temperature"),
            max_tokens=max_output,
            thinking_mode=args.get("thinking_mode"),
            use_websearch=bool(args.get("use_websearch")),
        ),
    )
    offer = conversation.record(
        args["prompt"], answer.reply.text, provider=answer.model.provider, model=answer.reply.model
    )
    return answer_envelope(answer, answer.reply.text, offer)
