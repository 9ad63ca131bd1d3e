"""``kimi_chat_with_tools``: raw messages and tool definitions to a Kimi model, its tool calls back."""

from __future__ import annotations

from typing import Any

from contracts.errors import InvalidArguments
from workers.context import ToolContext
from workers.envelope import answer_envelope
from workers.model_call import Ask, ask
from workers.routing import validate_model


def run(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    model = args.get("model") or "auto"
    if model != "auto" and validate_model(model, ctx.settings).provider != "kimi":
        raise InvalidArguments(f"kimi_chat_with_tools runs on Kimi models only; {model!r} is not one")
    extra = {"tool_choice": args["tool_choice"]} if "tool_choice" in args else {}
    answer = ask(
        ctx,
        Ask(
            build=lambda _model: list(args["messages"]),
            model=model,
            temperature=args.get("temperature"),
            max_tokens=args.get("max_tokens"),
            use_websearch=bool(args.get("use_websearch")),
            tools=args.get("tools") or None,
            extra=extra,
            providers=("kimi",),
        ),
    )
    reply = answer.reply
    content = reply.text
    if reply.tool_calls and not content:
        names = ", ".join(str(c.get("function", {}).get("name")) for c in reply.tool_calls)
        content = f"The model asks to call: {names}"
    return answer_envelope(
        answer, content, None, tool_calls=reply.tool_calls, finish_reason=reply.finish_reason
    )
