"""Asking a model: routing with fallback, context-window check, thinking, web search, streaming.

Every tool that calls a model goes through :func:`ask`. The prompt is built per candidate model
(a thread's history is cut to that model's window), checked against the window, then sent. Kimi's
``$web_search`` is a loop without streaming: the model asks for a search, the client echoes the
arguments back as a tool message, and the model answers with the results it got.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from contracts.errors import InvalidArguments, ProviderError
from contracts.models import ModelInfo
from workers.budget import ensure_fits
from workers.context import ToolContext
from workers.providers.base import ChatRequest, ChatResponse, Usage
from workers.providers.options import KIMI_WEB_SEARCH_NAME, thinking_extra, web_search_tools
from workers.routing import candidates, with_fallback

BuildMessages = Callable[[ModelInfo], list[dict[str, Any]]]


@dataclass
class Ask:
    build: BuildMessages
    model: str | None = None  # a name, "auto" or None (DEFAULT_MODEL)
    need: str = "default"
    temperature: float | None = None
    max_tokens: int | None = None
    thinking_mode: str | None = None
    use_websearch: bool = False
    tools: list[dict[str, Any]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    providers: tuple[str, ...] | None = None  # restrict auto to these providers
    stream: bool = True


@dataclass(frozen=True)
class Answer:
    model: ModelInfo
    reply: ChatResponse
    prompt_estimate: int

    def usage(self) -> dict[str, int]:
        u = self.reply.usage
        return {
            "prompt_tokens": u.prompt_tokens,
            "completion_tokens": u.completion_tokens,
            "total_tokens": u.total_tokens,
        }

    def metadata(self, **extra: Any) -> dict[str, Any]:
        return {"provider": self.model.provider, "model": self.reply.model, "usage": self.usage(), **extra}


def need_of(args: dict[str, Any], default: str = "default") -> str:
    """What ``auto`` should optimise for, from the arguments of a call."""
    if args.get("images"):
        return "vision"
    if args.get("use_websearch"):
        return "web_search"
    if args.get("thinking_mode") in ("high", "max"):
        return "reasoning"
    if args.get("thinking_mode") == "minimal":
        return "fast"
    return default


def ask(ctx: ToolContext, request: Ask) -> Answer:
    max_output = min(
        request.max_tokens or ctx.settings.exai_max_output_tokens, ctx.settings.exai_max_output_tokens
    )
    models = candidates(
        request.model, ctx.settings, need=request.need, client=ctx.redis, providers=request.providers
    )
    prepared: list[tuple[ModelInfo, list[dict[str, Any]], int]] = []
    too_large: InvalidArguments | None = None
    for model in models:
        messages = request.build(model)
        try:
            used = ensure_fits(model, messages, max_output)
        except InvalidArguments as exc:
            too_large = too_large or exc
            continue
        prepared.append((model, messages, used))
    if not prepared:
        assert too_large is not None
        raise too_large
    by_name = {m.name: (msgs, used) for m, msgs, used in prepared}

    def attempt(model: ModelInfo) -> Answer:
        messages, used = by_name[model.name]
        ctx.check()
        ctx.progress(0.5, None, f"calling {model.provider}/{model.name}", force=True)
        tools = list(request.tools or [])
        if request.use_websearch:
            tools += web_search_tools(model.provider)
        extra = {
            **thinking_extra(model.provider, request.thinking_mode, web_search=request.use_websearch),
            **request.extra,
        }
        chat = ChatRequest(
            model=model.name,
            messages=messages,
            temperature=request.temperature,
            max_tokens=max_output,
            tools=tools or None,
            extra=extra,
        )
        if request.use_websearch and model.provider == "kimi":
            reply = _kimi_search_loop(ctx, chat)
        else:
            reply = _send(ctx, model, chat, stream=request.stream)
        return Answer(model, reply, used)

    return with_fallback([m for m, _, _ in prepared], attempt)


def _send(ctx: ToolContext, model: ModelInfo, chat: ChatRequest, *, stream: bool) -> ChatResponse:
    def on_delta(text: str, chunks: int) -> None:
        ctx.progress(1 + chunks, None, f"{chunks} chunks streamed from {model.name}", text=text)

    return ctx.provider(model.provider).chat(
        chat,
        request_id=ctx.job.correlation_id,
        deadline=ctx.deadline,
        cancel=ctx.cancel,
        on_delta=on_delta if stream else None,
    )


def _kimi_search_loop(ctx: ToolContext, chat: ChatRequest) -> ChatResponse:
    """Answer Kimi's ``$web_search`` calls by echoing their arguments until it answers in text."""
    client = ctx.provider("kimi")
    messages = list(chat.messages)
    prompt = completion = 0
    rounds = ctx.settings.exai_websearch_max_rounds
    for round_number in range(rounds + 1):
        ctx.check()
        reply = client.chat(
            ChatRequest(
                model=chat.model,
                messages=messages,
                temperature=chat.temperature,
                max_tokens=chat.max_tokens,
                tools=chat.tools,
                extra=chat.extra,
            ),
            request_id=f"{ctx.job.correlation_id}-{round_number}",
            deadline=ctx.deadline,
            cancel=ctx.cancel,
        )
        prompt += reply.usage.prompt_tokens
        completion += reply.usage.completion_tokens
        searches = [
            c for c in reply.tool_calls or [] if c.get("function", {}).get("name") == KIMI_WEB_SEARCH_NAME
        ]
        if reply.finish_reason != "tool_calls" or not searches:
            return ChatResponse(
                text=reply.text,
                model=reply.model,
                provider=reply.provider,
                usage=Usage(prompt, completion, prompt + completion),
                finish_reason=reply.finish_reason,
                reasoning=reply.reasoning,
                tool_calls=reply.tool_calls,
                request_id=reply.request_id,
                web_search=[{"rounds": round_number}] if round_number else None,
            )
        ctx.progress(1 + round_number, None, f"Kimi searched the web (round {round_number + 1})")
        messages.append({"role": "assistant", "content": reply.text, "tool_calls": reply.tool_calls})
        for call in searches:
            # Kimi runs the search itself: the client only hands the arguments back unchanged.
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": call.get("id"),
                    "name": KIMI_WEB_SEARCH_NAME,
                    "content": call["function"].get("arguments") or json.dumps({}),
                }
            )
    raise ProviderError(
        f"Kimi kept asking for web searches after {rounds} rounds (EXAI_WEBSEARCH_MAX_ROUNDS): "
        "ask a narrower question",
        provider="kimi",
        kind="bad_request",
    )
