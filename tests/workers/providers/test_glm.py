"""The GLM client against the real emulator: its request_id field, usage placement and error codes."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from contracts.errors import CallCancelled, DeadlineExceeded, ProviderError
from tests.support.emulator import EmulatorControl
from workers.cancellation import CancelToken
from workers.providers.base import ChatRequest, Usage
from workers.providers.glm import GlmClient

KEY = "glm-test-secret"


@pytest.fixture
def client(emulator_url: str, control: EmulatorControl) -> Iterator[GlmClient]:
    client = GlmClient(KEY, base_url=f"{emulator_url}/api/paas/v4", connect_timeout_s=2, read_timeout_s=0.5)
    yield client
    client.close()


def ask(prompt: str, **extra: object) -> ChatRequest:
    return ChatRequest(model="glm-4.6", messages=[{"role": "user", "content": prompt}], extra=dict(extra))


def soon(seconds: float = 30) -> float:
    return time.time() + seconds


def test_plain_chat_echoes_the_prompt_and_sends_request_id_in_header_and_body(
    client: GlmClient, control: EmulatorControl
) -> None:
    """The reply echoes the prompt; the request id travels as X-Request-ID and as the request_id field."""
    answer = client.chat(ask("hello glm", thinking={"type": "enabled"}), request_id="glm-1", deadline=soon())
    assert answer.text == "[emulated glm glm-4.6] hello glm"
    # Thinking on: the emulator adds 8 reasoning tokens, which count as completion tokens.
    assert answer.reasoning is not None and len(answer.reasoning.split()) == 8
    assert answer.usage == Usage(prompt_tokens=2, completion_tokens=13, total_tokens=15)
    stats = control.stats()
    assert stats["by_request_id"] == {"glm-1": 1}
    last = stats["last_body"]["glm"]
    assert last["request_id"] == "glm-1" and last["thinking"] == {"type": "enabled"}


def test_streaming_reads_usage_from_the_top_level(client: GlmClient) -> None:
    """GLM puts usage at the top level of the last chunk; the client finds it there."""
    counts: list[int] = []
    answer = client.chat(
        ask("go emulate:tokens=9"),
        request_id="glm-2",
        deadline=soon(),
        on_delta=lambda text, n: counts.append(n),
    )
    assert counts == list(range(1, 10))
    assert answer.usage == Usage(prompt_tokens=2, completion_tokens=9, total_tokens=11)


@pytest.mark.parametrize(
    ("fault", "kind", "code", "retryable"),
    [
        ("rate_limit", "rate_limit", "1302", True),
        ("overloaded", "overloaded", "1312", True),
        ("quota", "quota", "1308", False),
        ("auth", "auth", "1002", False),
        ("server_error", "server_error", "500", True),
    ],
)
def test_error_codes_become_kinds(
    client: GlmClient, control: EmulatorControl, fault: str, kind: str, code: str, retryable: bool
) -> None:
    """GLM's string error codes decide the kind and whether a retry may help."""
    control.fault(fault, provider="glm", retry_after=4 if fault == "rate_limit" else None)
    with pytest.raises(ProviderError) as caught:
        client.chat(ask("hi"), request_id="r", deadline=soon())
    error = caught.value
    assert (error.kind, error.provider_code, error.retryable) == (kind, code, retryable)
    assert error.retry_after == (4.0 if fault == "rate_limit" else None)
    assert KEY not in error.message


def test_quota_message_tells_the_person_what_to_do(client: GlmClient, control: EmulatorControl) -> None:
    """A quota failure says to top up or switch provider."""
    control.fault("quota", provider="glm")
    expected = r"GLM quota exhausted \(HTTP 429, code 1308\): top up the account"
    with pytest.raises(ProviderError, match=expected):
        client.chat(ask("hi"), request_id="r", deadline=soon())


def test_hang_disconnect_cancel_and_deadline_behave_as_for_kimi(
    emulator_url: str, client: GlmClient, control: EmulatorControl
) -> None:
    """Timeouts, drops, cancellation and deadlines share one implementation; spot-check them for GLM."""
    control.fault("hang", provider="glm")
    with pytest.raises(ProviderError) as timed_out:
        client.chat(ask("hi"), request_id="r", deadline=soon())
    control.fault("disconnect", provider="glm")
    with pytest.raises(ProviderError) as dropped:
        client.chat(ask("hi"), request_id="r", deadline=soon())
    assert (timed_out.value.kind, dropped.value.kind) == ("timeout", "network")

    patient = GlmClient(KEY, base_url=f"{emulator_url}/api/paas/v4", read_timeout_s=30)
    with pytest.raises(DeadlineExceeded):
        patient.chat(
            ask("emulate:stall_after=1"), request_id="r", deadline=soon(0.5), on_delta=lambda text, n: None
        )
    token = CancelToken()
    streaming = threading.Event()

    def cancel_once_streaming() -> None:
        streaming.wait(10)
        token.set()

    canceller = threading.Thread(target=cancel_once_streaming, daemon=True)
    canceller.start()
    with pytest.raises(CallCancelled):
        patient.chat(
            ask("emulate:stall_after=1"),
            request_id="r",
            deadline=soon(),
            cancel=token,
            on_delta=lambda text, n: streaming.set(),
        )
    canceller.join(5)
    patient.close()


def test_list_models_returns_the_glm_model_names(client: GlmClient) -> None:
    """GET /models is read into model ids."""
    assert "glm-4.6" in client.list_models(deadline=soon())


def test_web_search_api_returns_the_results_and_sends_the_request_id(
    client: GlmClient, control: EmulatorControl
) -> None:
    """POST /web_search answers search_result; the request id travels like a chat call's."""
    answer = client.web_search({"search_query": "gevent", "count": 2}, request_id="search-1", deadline=soon())
    assert [r["title"] for r in answer["search_result"]] == ["Result 1 for gevent", "Result 2 for gevent"]
    assert control.stats()["last_body"]["glm"]["request_id"] == "search-1"


def test_web_search_tool_results_are_read_from_a_streamed_answer(client: GlmClient) -> None:
    """The web_search list GLM sends at the top level of a chunk ends up on the response."""
    request = ChatRequest(
        model="glm-4.6",
        messages=[{"role": "user", "content": "news"}],
        tools=[{"type": "web_search", "web_search": {"enable": True}}],
    )
    answer = client.chat(request, request_id="glm-ws", deadline=soon(), on_delta=lambda _t, _n: None)
    assert answer.web_search is not None and len(answer.web_search) == 3
    assert "[web search: 3 results]" in answer.text
