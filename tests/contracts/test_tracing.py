"""Optional tracing: one trace from the gateway's span, through task headers, to the provider call."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from contracts import tracing
from contracts.settings import load_settings
from workers.metered import MeteredClient
from workers.providers.base import ChatRequest, ChatResponse, Usage

in_memory = pytest.importorskip("opentelemetry.sdk.trace.export.in_memory_span_exporter")


@pytest.fixture
def spans() -> Iterator[Any]:
    exporter = in_memory.InMemorySpanExporter()
    assert tracing.setup(load_settings(exai_otel_enabled=True), "exai-test", exporter=exporter)
    yield exporter
    tracing._tracer = None
    tracing._propagator = None


class FakeClient:
    name = "glm"

    def chat(self, request: ChatRequest, **_: Any) -> ChatResponse:
        return ChatResponse(text="hi", model=request.model, provider="glm", usage=Usage(1, 1, 2))

    def list_models(self, *, deadline: float) -> list[str]:
        return []

    def close(self) -> None:
        return None


def test_tracing_is_off_by_default_and_then_costs_nothing() -> None:
    """Without EXAI_OTEL_ENABLED nothing is set up, spans are no-ops and no header is added."""
    assert tracing.setup(load_settings(), "exai-test") is False
    with tracing.span("anything", tool="chat"):
        assert tracing.inject() == {}
    assert tracing.continue_task("task", {"traceparent": "00-x-y-01"}) is None


def test_gateway_task_and_provider_spans_form_one_trace(spans: Any) -> None:
    """The worker continues the gateway's trace from the task headers; the provider call is its child."""
    with tracing.span("tools/call", tool="glm-chat", correlation_id="c-1"):
        headers = tracing.inject()
    assert headers["traceparent"].startswith("00-")

    task = tracing.continue_task("task exai.tool.chat", headers, task_id="t1")
    assert task is not None
    MeteredClient(FakeClient()).chat(  # type: ignore[arg-type]
        ChatRequest(model="glm-4.6", messages=[]), request_id="c-1", deadline=0
    )
    task.end("SUCCESS")

    finished = {s.name: s for s in spans.get_finished_spans()}
    gateway, worker, provider = finished["tools/call"], finished["task exai.tool.chat"], finished["glm chat"]
    assert len({s.context.trace_id for s in (gateway, worker, provider)}) == 1
    assert worker.parent.span_id == gateway.context.span_id
    assert provider.parent.span_id == worker.context.span_id
    assert provider.attributes["exai.model"] == "glm-4.6"
    assert worker.attributes["exai.status"] == "SUCCESS"
    assert gateway.attributes["exai.correlation_id"] == "c-1"
