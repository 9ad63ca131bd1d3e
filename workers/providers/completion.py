"""Reading chat completions of the OpenAI dialect, whole or chunk by chunk (no I/O here)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workers.providers.base import ChatResponse, Usage


class MalformedCompletion(ValueError):
    """Raised when a provider's success answer does not have the shape of a chat completion."""


def parse_usage(data: Any) -> Usage | None:
    if not isinstance(data, Mapping):
        return None

    def count(name: str) -> int:
        value = data.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    prompt, completion = count("prompt_tokens"), count("completion_tokens")
    return Usage(prompt, completion, count("total_tokens") or prompt + completion)


def _first_choice(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    choices = body.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], Mapping):
        return choices[0]
    return None


def usage_of(body: Mapping[str, Any]) -> Usage | None:
    """Usage at the top level (OpenAI, GLM) or inside the first choice (seen from Kimi streams)."""
    usage = parse_usage(body.get("usage"))
    choice = _first_choice(body)
    return usage if usage is not None or choice is None else parse_usage(choice.get("usage"))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_completion(provider: str, model: str, body: Any) -> ChatResponse:
    """A non-streamed completion; ``model`` is used when the body does not name one."""
    if not isinstance(body, Mapping):
        raise MalformedCompletion("the answer is not a JSON object")
    choice = _first_choice(body)
    message = choice.get("message") if choice is not None else None
    if not isinstance(message, Mapping):
        raise MalformedCompletion("the answer has no choices[0].message")
    tool_calls = message.get("tool_calls")
    return ChatResponse(
        text=_text(message.get("content")) or "",
        model=_text(body.get("model")) or model,
        provider=provider,
        usage=usage_of(body) or Usage(),
        finish_reason=_text(choice.get("finish_reason")) if choice is not None else None,
        reasoning=_text(message.get("reasoning_content")),
        tool_calls=list(tool_calls) if isinstance(tool_calls, list) and tool_calls else None,
        request_id=_text(body.get("id")),
        web_search=_web_search(body),
    )


def _web_search(body: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """GLM's search results, sent at the top level of a completion (or of a stream chunk)."""
    found = body.get("web_search")
    if not isinstance(found, list):
        return None
    return [dict(item) for item in found if isinstance(item, Mapping)] or None


class StreamAccumulator:
    """Builds the ChatResponse of a streamed completion from its chunks.

    Tool calls arrive in pieces keyed by ``index``: the id, type and name once (the first non-empty
    value is kept), the arguments as fragments of a JSON string that are concatenated.
    """

    def __init__(self, provider: str, model: str) -> None:
        self.provider = provider
        self.model = model
        self.content: list[str] = []
        self.reasoning: list[str] = []
        self.tool_calls: dict[int, dict[str, Any]] = {}
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.completion_id: str | None = None
        self.web_search: list[dict[str, Any]] | None = None

    def add(self, chunk: Mapping[str, Any]) -> str | None:
        """Take one chunk; returns its content text, if it carries any."""
        self.completion_id = self.completion_id or _text(chunk.get("id"))
        self.model = _text(chunk.get("model")) or self.model
        self.usage = usage_of(chunk) or self.usage
        self.web_search = _web_search(chunk) or self.web_search
        choice = _first_choice(chunk)
        if choice is None:
            return None
        self.finish_reason = _text(choice.get("finish_reason")) or self.finish_reason
        delta = choice.get("delta")
        if not isinstance(delta, Mapping):
            return None
        reasoning = _text(delta.get("reasoning_content"))
        if reasoning:
            self.reasoning.append(reasoning)
        for position, piece in enumerate(delta.get("tool_calls") or ()):
            if isinstance(piece, Mapping):
                self._add_tool_piece(position, piece)
        content = _text(delta.get("content"))
        if content:
            self.content.append(content)
        return content

    def _add_tool_piece(self, position: int, piece: Mapping[str, Any]) -> None:
        index = piece.get("index")
        key = index if isinstance(index, int) else position
        call = self.tool_calls.setdefault(
            key, {"id": None, "type": "function", "function": {"name": "", "arguments": ""}}
        )
        call["id"] = call["id"] or _text(piece.get("id"))
        call["type"] = _text(piece.get("type")) or call["type"]
        function = piece.get("function")
        if isinstance(function, Mapping):
            call["function"]["name"] = call["function"]["name"] or _text(function.get("name")) or ""
            call["function"]["arguments"] += _text(function.get("arguments")) or ""

    def result(self) -> ChatResponse:
        calls = [self.tool_calls[k] for k in sorted(self.tool_calls)]
        return ChatResponse(
            text="".join(self.content),
            model=self.model,
            provider=self.provider,
            usage=self.usage or Usage(),
            finish_reason=self.finish_reason,
            reasoning="".join(self.reasoning) or None,
            tool_calls=calls or None,
            request_id=self.completion_id,
            web_search=self.web_search,
        )
