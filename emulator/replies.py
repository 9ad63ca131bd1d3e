"""Deterministic replies: what the emulated model answers to a request, worked out before any byte is sent.

A "token" here is one whitespace-separated word; each becomes one stream chunk, so a test can ask for
an exact number of chunks and check the usage the client reports.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

FILLER = ("lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit")
REASONING = ("thinking", "about", "the", "question")
THINKING_TOKENS = 8  # reasoning tokens sent when thinking is enabled and no directive sets a number
SEARCH_RESULTS = 3  # results one emulated web search finds
KIMI_SEARCH = "$web_search"
_DIRECTIVE = re.compile(r"emulate:([a-z_]+)=(\S+)")
_PIECE = re.compile(r"\s*\S+")
_NUMERIC: dict[str, type[int] | type[float]] = {
    "tokens": int,
    "reasoning": int,
    "latency_ms": float,
    "tokens_per_second": float,
    "stall_after": int,
}


class BadDirective(ValueError):
    """Raised when an ``emulate:`` directive in the prompt cannot be used."""


@dataclass(frozen=True)
class Directives:
    tokens: int | None = None
    latency_ms: float | None = None
    tokens_per_second: float | None = None
    reasoning: int = 0
    tool: str | None = None
    stall_after: int | None = None  # stream this many chunks, then go silent


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    argument_pieces: tuple[str, ...]


@dataclass(frozen=True)
class Reply:
    content_pieces: tuple[str, ...]
    reasoning_pieces: tuple[str, ...] = ()
    tool_call: ToolCall | None = None
    finish_reason: str = "stop"
    prompt_tokens: int = 0
    directives: Directives = field(default_factory=Directives)
    web_search: tuple[dict[str, str], ...] = ()  # GLM: results reported at the top level

    @property
    def content(self) -> str:
        return "".join(self.content_pieces)

    @property
    def reasoning(self) -> str:
        return "".join(self.reasoning_pieces)

    @property
    def completion_tokens(self) -> int:
        tool_pieces = len(self.tool_call.argument_pieces) if self.tool_call else 0
        return len(self.content_pieces) + len(self.reasoning_pieces) + tool_pieces


def message_text(message: Mapping[str, Any]) -> str:
    """The text of one chat message, whether its content is a string or a list of typed parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
    return ""


def last_user_text(messages: Sequence[Mapping[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return message_text(message)
    return ""


def count_tokens(text: str) -> int:
    return len(text.split())


def parse_directives(text: str) -> Directives:
    values: dict[str, Any] = {}
    for name, raw in _DIRECTIVE.findall(text):
        if name == "tool":
            values[name] = raw
            continue
        convert = _NUMERIC.get(name)
        if convert is None:
            raise BadDirective(f"unknown directive emulate:{name}; known: tool, {', '.join(_NUMERIC)}")
        try:
            value = convert(raw)
        except ValueError:
            raise BadDirective(f"emulate:{name} needs a number, got {raw!r}") from None
        if value < 0:
            raise BadDirective(f"emulate:{name} must not be negative, got {raw!r}")
        values[name] = value
    return Directives(**values)


def _words_to_pieces(words: Sequence[str]) -> tuple[str, ...]:
    # Each piece after the first carries its leading space, so joined pieces equal the text.
    return tuple(w if i == 0 else " " + w for i, w in enumerate(words))


def _reply_words(provider: str, model: str, prompt: str, tokens: int | None) -> list[str]:
    words = [f"[emulated {provider} {model}]", *prompt.split()]
    words = " ".join(words).split()  # the header is three tokens like any other words
    if tokens is None:
        return words
    if tokens <= len(words):
        return words[:tokens]
    return words + [FILLER[i % len(FILLER)] for i in range(tokens - len(words))]


def search_results(query: str, count: int = SEARCH_RESULTS) -> list[dict[str, str]]:
    """Deterministic search results for ``query`` (what both search paths report)."""
    words = "-".join(query.split()[:6]) or "empty"
    return [
        {
            "title": f"Result {i} for {query}",
            "link": f"https://example.org/search/{words}/{i}",
            "content": f"Emulated page {i} about {query}.",
            "media": "example.org",
            "refer": f"ref_{i}",
            "publish_date": "2026-01-01",
        }
        for i in range(1, count + 1)
    ]


def _thinking_enabled(body: Mapping[str, Any]) -> bool:
    thinking = body.get("thinking")
    return isinstance(thinking, Mapping) and thinking.get("type") == "enabled"


def _tool_named(body: Mapping[str, Any], kind: str, name: str | None = None) -> bool:
    for tool in body.get("tools") or ():
        if not isinstance(tool, Mapping) or tool.get("type") != kind:
            continue
        function = tool.get("function")
        if name is None or (isinstance(function, Mapping) and function.get("name") == name):
            return True
    return False


def _searched(messages: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the client already echoed a $web_search call back after the last user message."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return False
        if message.get("role") == "tool" and message.get("name") == KIMI_SEARCH:
            return True
    return False


def plan_reply(provider: str, body: Mapping[str, Any]) -> Reply:
    """The whole reply to a chat request; raises BadDirective for an unusable ``emulate:`` directive.

    Thinking (``thinking.type == "enabled"``) adds reasoning tokens. Kimi's ``$web_search`` builtin
    first answers with a call of that tool, then - once the client echoed it back - with the text;
    GLM's ``web_search`` tool answers at once and reports its results. Both mark the text with
    ``[web search: N results]`` after the header.
    """
    messages: Sequence[Mapping[str, Any]] = body["messages"]
    prompt = last_user_text(messages)
    directives = parse_directives(prompt)
    prompt_tokens = sum(count_tokens(message_text(m)) for m in messages)
    thinking = directives.reasoning or (THINKING_TOKENS if _thinking_enabled(body) else 0)
    reasoning = _words_to_pieces([REASONING[i % len(REASONING)] for i in range(thinking)])
    kimi_search = provider == "kimi" and _tool_named(body, "builtin_function", KIMI_SEARCH)
    glm_search = provider == "glm" and _tool_named(body, "web_search")
    if kimi_search and _thinking_enabled(body):
        raise BadDirective("$web_search is not available while thinking is enabled")
    if kimi_search and not _searched(messages):
        arguments = json.dumps(
            {"search_result": {"search_id": "emulated-search"}, "usage": {"total_tokens": 9}}
        )
        call = ToolCall(f"{KIMI_SEARCH}:0", KIMI_SEARCH, tuple(_PIECE.findall(arguments)))
        return Reply((), (), call, "tool_calls", prompt_tokens, directives)
    if directives.tool is not None:
        arguments = json.dumps({"echo": prompt})
        call = ToolCall(f"{directives.tool}:0", directives.tool, tuple(_PIECE.findall(arguments)))
        return Reply((), reasoning, call, "tool_calls", prompt_tokens, directives)
    searched = kimi_search or glm_search
    marked = f"[web search: {SEARCH_RESULTS} results] {prompt}" if searched else prompt
    words = _reply_words(provider, str(body["model"]), marked, directives.tokens)
    finish = "stop"
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, int) and 0 < max_tokens < len(words):
        words, finish = words[:max_tokens], "length"
    results = tuple(search_results(prompt)) if glm_search else ()
    return Reply(_words_to_pieces(words), reasoning, None, finish, prompt_tokens, directives, results)
