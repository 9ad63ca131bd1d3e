"""A provider client that reports each chat completion to monitoring: latency, tokens, outcome.

Wrapping the client (rather than instrumenting each provider) measures every tool's provider
calls the same way, including tools that make several.
"""

from __future__ import annotations

import time
from typing import Any

from contracts import tracing
from contracts.errors import CallCancelled, DeadlineExceeded, ProviderError
from workers import telemetry
from workers.cancellation import CancelToken
from workers.providers.base import ChatRequest, ChatResponse, OnDelta, ProviderClient, SearchClient

SEARCH_MODEL = "web_search"  # how search calls appear in metrics and breaker scopes


class MeteredClient:
    def __init__(self, inner: ProviderClient) -> None:
        self._inner = inner
        self.name = inner.name

    def chat(
        self,
        request: ChatRequest,
        *,
        request_id: str,
        deadline: float,
        cancel: CancelToken | None = None,
        on_delta: OnDelta | None = None,
    ) -> ChatResponse:
        started = time.monotonic()
        status = "error"
        response: ChatResponse | None = None
        try:
            with tracing.span(
                f"{self.name} chat", provider=self.name, model=request.model, request_id=request_id
            ):
                response = self._inner.chat(
                    request, request_id=request_id, deadline=deadline, cancel=cancel, on_delta=on_delta
                )
            status = "ok"
            return response
        except ProviderError as exc:
            status = exc.kind
            _record_error("provider", exc.kind)
            raise
        except CallCancelled:
            status = "cancelled"
            raise
        except DeadlineExceeded:
            status = "deadline"
            raise
        finally:
            recorder = telemetry.current()
            if recorder is not None:
                usage = response.usage if response is not None else None
                recorder.api_call(
                    self.name,
                    request.model,
                    status,
                    time.monotonic() - started,
                    prompt_tokens=usage.prompt_tokens if usage else 0,
                    completion_tokens=usage.completion_tokens if usage else 0,
                )

    def web_search(
        self,
        query: dict[str, Any],
        *,
        request_id: str,
        deadline: float,
        cancel: CancelToken | None = None,
    ) -> dict[str, Any]:
        """The provider's search API, measured like a chat completion (model ``web_search``)."""
        inner = self._inner
        if not isinstance(inner, SearchClient):
            raise TypeError(f"the {self.name} provider client has no search API")
        started = time.monotonic()
        status = "error"
        try:
            with tracing.span(f"{self.name} web_search", provider=self.name, request_id=request_id):
                answer = inner.web_search(query, request_id=request_id, deadline=deadline, cancel=cancel)
            status = "ok"
            return answer
        except ProviderError as exc:
            status = exc.kind
            _record_error("provider", exc.kind)
            raise
        except CallCancelled:
            status = "cancelled"
            raise
        except DeadlineExceeded:
            status = "deadline"
            raise
        finally:
            recorder = telemetry.current()
            if recorder is not None:
                recorder.api_call(self.name, SEARCH_MODEL, status, time.monotonic() - started)

    def list_models(self, *, deadline: float) -> list[str]:
        return self._inner.list_models(deadline=deadline)

    def close(self) -> None:
        self._inner.close()

    def __getattr__(self, name: str) -> Any:
        # Anything else a tool uses on a specific client (its base URL, display name) passes through.
        return getattr(self._inner, name)


def _record_error(component: str, error_type: str) -> None:
    recorder = telemetry.current()
    if recorder is not None:
        recorder.error(component, error_type)
