"""What every provider client offers the tools, whatever the API behind it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from workers.cancellation import CancelToken


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: list[dict[str, Any]]
    temperature: float | None = None
    max_tokens: int | None = None
    tools: list[dict[str, Any]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # provider-specific body fields


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


@dataclass(frozen=True)
class ChatResponse:
    text: str
    model: str
    provider: str
    usage: Usage
    finish_reason: str | None = None
    reasoning: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    request_id: str | None = None  # the provider's id for the completion, when it sends one
    web_search: list[dict[str, Any]] | None = None  # GLM: the search results the answer used


# Called with each streamed piece of text and the running count of completion chunks.
OnDelta = Callable[[str, int], None]


class ProviderClient(Protocol):
    name: str

    def chat(
        self,
        request: ChatRequest,
        *,
        request_id: str,
        deadline: float,
        cancel: CancelToken | None = None,
        on_delta: OnDelta | None = None,
    ) -> ChatResponse:
        """Run one chat completion (streamed when ``on_delta`` is given).

        Raises ``contracts.errors.ProviderError`` (classified), ``DeadlineExceeded`` when ``deadline``
        (Unix time) passes, ``CallCancelled`` when ``cancel`` is set.
        """
        ...

    def list_models(self, *, deadline: float) -> list[str]: ...

    def close(self) -> None: ...


@runtime_checkable
class SearchClient(Protocol):
    """A provider client with a web search API (GLM's ``POST {base}/web_search``)."""

    name: str

    def web_search(
        self,
        query: dict[str, Any],
        *,
        request_id: str,
        deadline: float,
        cancel: CancelToken | None = None,
    ) -> dict[str, Any]:
        """The search API's answer; raises like :meth:`ProviderClient.chat`."""
        ...
