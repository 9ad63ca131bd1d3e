"""The synchronous HTTP client for the OpenAI chat dialect that Kimi and GLM both speak.

Synchronous on purpose: workers run under gevent, which makes these blocking calls cooperative.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx

from contracts.errors import KIND_NETWORK, KIND_SERVER, ProviderError
from workers.cancellation import CancelToken
from workers.providers.base import ChatRequest, ChatResponse, OnDelta
from workers.providers.classify import classify_response, classify_transport_error, display_name
from workers.providers.completion import MalformedCompletion, StreamAccumulator, parse_completion
from workers.providers.guard import CallGuard
from workers.providers.sse import DONE, iter_events
from workers.providers.transport import ShardedTransport, environment_proxy, trust_context

REDACTED = "********"


class OpenAICompatClient:
    """One provider's chat API; subclasses name the provider and add their own body fields."""

    name = "openai"

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str,
        connect_timeout_s: float = 10.0,
        read_timeout_s: float = 120.0,
        ca_file: str | None = None,
        keepalive_s: float = 30.0,
        keepalive_max: int = 1024,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = api_key
        self._connect_timeout_s = connect_timeout_s
        self._read_timeout_s = read_timeout_s
        self._ca_file = ca_file
        # One client serves every greenlet of a worker; its transport keeps connections alive
        # without losing the guard's hold on each call (see transport.py).
        transport = ShardedTransport(
            ssl_context=trust_context(ca_file),
            keepalive_s=keepalive_s,
            keepalive_max=keepalive_max,
            proxy=environment_proxy(self.base_url),
        )
        self._http = httpx.Client(
            headers={"Authorization": f"Bearer {api_key}"}, transport=transport, trust_env=False
        )

    @property
    def display(self) -> str:
        return display_name(self.name)

    def close(self) -> None:
        self._http.close()

    def request_body(self, request: ChatRequest, *, request_id: str, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"model": request.model, "messages": request.messages}
        if stream:
            body["stream"] = True
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        if request.tools:
            body["tools"] = request.tools
        body.update(request.extra)
        return body

    def chat(
        self,
        request: ChatRequest,
        *,
        request_id: str,
        deadline: float,
        cancel: CancelToken | None = None,
        on_delta: OnDelta | None = None,
    ) -> ChatResponse:
        body = self.request_body(request, request_id=request_id, stream=on_delta is not None)
        exchange = self._exchange("POST", "/chat/completions", request_id, deadline, cancel, body)
        with exchange as (guard, response):
            if on_delta is not None:
                return self._read_stream(response, guard, request.model, on_delta)
            try:
                return parse_completion(self.name, request.model, _json_or_none(response.read()))
            except MalformedCompletion as exc:
                raise self._malformed(str(exc)) from None

    def list_models(self, *, deadline: float) -> list[str]:
        with self._exchange("GET", "/models", uuid.uuid4().hex, deadline, None, None) as (_, response):
            body = _json_or_none(response.read())
        data = body.get("data") if isinstance(body, Mapping) else None
        if not isinstance(data, list):
            raise self._malformed("the model list has no data array")
        return [m["id"] for m in data if isinstance(m, Mapping) and isinstance(m.get("id"), str)]

    @contextmanager
    def _exchange(
        self,
        method: str,
        path: str,
        request_id: str,
        deadline: float,
        cancel: CancelToken | None,
        body: dict[str, Any] | None,
    ) -> Iterator[tuple[CallGuard, httpx.Response]]:
        """Send one request and yield its successful response, open for reading.

        Every failure leaves as a classified ProviderError, CallCancelled or DeadlineExceeded.
        """
        with CallGuard(what=f"the {self.display} call", deadline=deadline, cancel=cancel) as guard:
            timeout = httpx.Timeout(
                connect=guard.clamp(self._connect_timeout_s),
                read=guard.clamp(self._read_timeout_s),
                write=guard.clamp(self._read_timeout_s),
                pool=guard.clamp(self._connect_timeout_s),
            )
            http_request = self._http.build_request(
                method, self.base_url + path, json=body, headers={"X-Request-ID": request_id}, timeout=timeout
            )
            try:
                response = self._http.send(http_request, stream=True)
                try:
                    if response.status_code >= 400:
                        response.read()
                        error_body = _json_or_none(response.content)
                        raise classify_response(self.name, response.status_code, error_body, response.headers)
                    yield guard, response
                finally:
                    response.close()
            except httpx.TransportError as exc:
                guard.check()  # a cut made by the guard is a cancellation or the deadline, not a fault
                raise classify_transport_error(
                    self.name, exc, url=self.base_url, ca_file=self._ca_file
                ) from exc
            except ProviderError as exc:
                raise self._redacted(exc) from None

    def _read_stream(
        self, response: httpx.Response, guard: CallGuard, model: str, on_delta: OnDelta
    ) -> ChatResponse:
        accumulator = StreamAccumulator(self.name, model)
        chunks = 0
        finished = False
        for event in iter_events(response.iter_lines()):
            guard.check()
            if finished:
                continue  # read to the end of the body, so the connection can be reused
            if event.data.strip() == DONE:
                finished = True
                continue
            try:
                chunk = json.loads(event.data)
            except ValueError:
                raise self._malformed("a stream event is not JSON") from None
            if not isinstance(chunk, dict):
                raise self._malformed("a stream event is not a JSON object")
            if "error" in chunk:  # some providers report failures inside a stream that began fine
                raise classify_response(self.name, None, chunk)
            text = accumulator.add(chunk)
            if text:
                chunks += 1
                on_delta(text, chunks)
        if not finished and accumulator.finish_reason is None:
            raise ProviderError(
                f"the {self.display} stream ended before the answer was complete: retrying later may succeed",
                provider=self.name,
                kind=KIND_NETWORK,
            )
        return accumulator.result()

    def _malformed(self, what: str) -> ProviderError:
        return ProviderError(
            f"{self.display} answered with something that is not a chat completion ({what}): "
            "retrying later may succeed",
            provider=self.name,
            kind=KIND_SERVER,
        )

    def _redacted(self, exc: ProviderError) -> ProviderError:
        """The error with the API key masked, should the provider have echoed it in its message."""
        if not self._key or self._key not in exc.message:
            return exc
        return ProviderError(
            exc.message.replace(self._key, REDACTED),
            provider=exc.provider,
            kind=exc.kind,
            status=exc.status,
            provider_code=exc.provider_code,
            retry_after=exc.retry_after,
        )


def _json_or_none(content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        return None
