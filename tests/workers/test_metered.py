"""Provider calls are reported with their outcome, latency and tokens, and errors pass through."""

from __future__ import annotations

import json
from typing import Any

import pytest

from contracts.errors import KIND_QUOTA, ProviderError
from contracts.settings import load_settings
from workers import telemetry
from workers.metered import MeteredClient
from workers.providers.base import ChatRequest, ChatResponse, Usage
from workers.telemetry import WorkerTelemetry


class FakeClient:
    name = "kimi"
    base_url = "http://x"

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    def chat(self, request: ChatRequest, **_: Any) -> ChatResponse:
        if self.error:
            raise self.error
        return ChatResponse(text="hi", model=request.model, provider="kimi", usage=Usage(5, 7, 12))

    def list_models(self, *, deadline: float) -> list[str]:
        return ["kimi-k2.6"]

    def close(self) -> None:
        return None


@pytest.fixture
def recorder() -> Any:
    rec = WorkerTelemetry(load_settings(), None, 10)  # type: ignore[arg-type]
    telemetry._current = rec
    yield rec
    telemetry._current = None


def _events(rec: WorkerTelemetry) -> list[dict[str, Any]]:
    return [json.loads(e) for e in rec._buffer.drain()]


def test_a_successful_call_reports_latency_and_tokens(recorder: WorkerTelemetry) -> None:
    """One api event with status ok and both token counts."""
    client = MeteredClient(FakeClient())  # type: ignore[arg-type]
    client.chat(ChatRequest(model="kimi-k2.6", messages=[]), request_id="r", deadline=0)
    (event,) = _events(recorder)
    assert (event["k"], event["status"], event["prompt_tokens"], event["completion_tokens"]) == (
        "api",
        "ok",
        5,
        7,
    )
    assert client.base_url == "http://x"  # other attributes pass through


def test_a_provider_error_is_reported_by_kind_and_raised_unchanged(recorder: WorkerTelemetry) -> None:
    """The caller still gets the ProviderError; monitoring gets its kind."""
    error = ProviderError("no quota", provider="kimi", kind=KIND_QUOTA)
    client = MeteredClient(FakeClient(error))  # type: ignore[arg-type]
    with pytest.raises(ProviderError) as raised:
        client.chat(ChatRequest(model="kimi-k2.6", messages=[]), request_id="r", deadline=0)
    assert raised.value is error
    kinds = {(e["k"], e.get("status") or e.get("error_type")) for e in _events(recorder)}
    assert kinds == {("api", KIND_QUOTA), ("error", KIND_QUOTA)}


def test_without_a_recorder_calls_work_and_report_nothing() -> None:
    """Outside a worker (tests, tools run inline) metering is a no-op."""
    client = MeteredClient(FakeClient())  # type: ignore[arg-type]
    assert client.chat(ChatRequest(model="kimi-k2.6", messages=[]), request_id="r", deadline=0).text == "hi"
