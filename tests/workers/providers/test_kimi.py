"""The Kimi client against the real emulator over loopback: answers, failures, cancellation, deadlines."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from contracts.errors import CallCancelled, DeadlineExceeded, ProviderError
from tests.support.emulator import EmulatorControl
from workers.cancellation import CancelToken
from workers.providers.base import ChatRequest, Usage
from workers.providers.kimi import KimiClient

KEY = "sk-test-kimi-secret"
READ_TIMEOUT_S = 0.5


@pytest.fixture
def client(emulator_url: str, control: EmulatorControl) -> Iterator[KimiClient]:
    client = KimiClient(
        KEY, base_url=f"{emulator_url}/v1", connect_timeout_s=2, read_timeout_s=READ_TIMEOUT_S
    )
    yield client
    client.close()


def ask(prompt: str) -> ChatRequest:
    return ChatRequest(model="kimi-k2.6", messages=[{"role": "user", "content": prompt}])


def soon(seconds: float = 30) -> float:
    return time.time() + seconds


def cancel_when(ready: Callable[[], object], token: CancelToken) -> tuple[threading.Thread, list[float]]:
    """A thread that waits for ``ready`` to return, then cancels and records when it did."""
    cancelled_at: list[float] = []

    def run() -> None:
        ready()
        cancelled_at.append(time.monotonic())
        token.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, cancelled_at


def test_plain_chat_returns_the_echoed_prompt_and_usage(client: KimiClient) -> None:
    """A plain call returns the emulator's echo, the model, the finish reason and word-count usage."""
    answer = client.chat(ask("what colour is the sky"), request_id="r-plain", deadline=soon())
    assert answer.text == "[emulated kimi kimi-k2.6] what colour is the sky"
    assert (answer.provider, answer.model, answer.finish_reason) == ("kimi", "kimi-k2.6", "stop")
    assert answer.usage == Usage(prompt_tokens=5, completion_tokens=8, total_tokens=13)
    assert answer.request_id and answer.request_id.startswith("chatcmpl-")


def test_streaming_reports_each_delta_and_reads_usage_from_the_choice(client: KimiClient) -> None:
    """on_delta sees every content piece with a running count; usage comes from choices[0].usage."""
    seen: list[tuple[str, int]] = []
    answer = client.chat(
        ask("stream emulate:tokens=20"),
        request_id="r-stream",
        deadline=soon(),
        on_delta=lambda text, n: seen.append((text, n)),
    )
    assert [n for _, n in seen] == list(range(1, 21))
    assert "".join(text for text, _ in seen) == answer.text
    assert answer.text.startswith("[emulated kimi kimi-k2.6] stream emulate:tokens=20 lorem")
    assert answer.usage == Usage(prompt_tokens=2, completion_tokens=20, total_tokens=22)


@pytest.mark.parametrize("streamed", [False, True])
def test_reasoning_and_tool_calls_are_collected(client: KimiClient, streamed: bool) -> None:
    """reasoning_content and tool calls (assembled from pieces when streamed) reach the response."""
    prompt = "find it emulate:reasoning=2 emulate:tool=search"
    answer = client.chat(
        ask(prompt),
        request_id="r-tool",
        deadline=soon(),
        on_delta=(lambda text, n: None) if streamed else None,
    )
    assert answer.reasoning == "thinking about"
    assert answer.finish_reason == "tool_calls"
    arguments = '{"echo": "find it emulate:reasoning=2 emulate:tool=search"}'
    assert answer.tool_calls == [
        {"id": "search:0", "type": "function", "function": {"name": "search", "arguments": arguments}}
    ]


def test_every_call_carries_its_request_id_header(client: KimiClient, control: EmulatorControl) -> None:
    """X-Request-ID reaches the provider once per call."""
    client.chat(ask("hi"), request_id="trace-me", deadline=soon())
    client.chat(ask("hi"), request_id="trace-me-too", deadline=soon(), on_delta=lambda t, n: None)
    assert control.stats()["by_request_id"] == {"trace-me": 1, "trace-me-too": 1}


def test_rate_limit_is_retryable_and_carries_retry_after(
    client: KimiClient, control: EmulatorControl
) -> None:
    """HTTP 429 rate_limit_reached_error becomes kind rate_limit with Retry-After in seconds."""
    control.fault("rate_limit", provider="kimi", retry_after=3)
    with pytest.raises(ProviderError) as caught:
        client.chat(ask("hi"), request_id="r", deadline=soon())
    assert (caught.value.kind, caught.value.status, caught.value.retry_after) == ("rate_limit", 429, 3.0)
    assert caught.value.retryable
    assert "retrying later may succeed" in caught.value.message


@pytest.mark.parametrize(
    ("fault", "kind", "retryable"),
    [
        ("overloaded", "overloaded", True),
        ("quota", "quota", False),
        ("auth", "auth", False),
        ("server_error", "server_error", True),
    ],
)
def test_provider_errors_get_their_kind_streamed_or_not(
    client: KimiClient, control: EmulatorControl, fault: str, kind: str, retryable: bool
) -> None:
    """Each emulated failure is classified the same for plain and streamed calls."""
    control.fault(fault, provider="kimi", count=2)
    for on_delta in (None, lambda text, n: None):
        with pytest.raises(ProviderError) as caught:
            client.chat(ask("hi"), request_id="r", deadline=soon(), on_delta=on_delta)
        assert (caught.value.kind, caught.value.retryable) == (kind, retryable)
        assert KEY not in caught.value.message


def test_a_silent_provider_times_out_within_the_read_timeout(
    client: KimiClient, control: EmulatorControl
) -> None:
    """A provider that never answers raises a retryable timeout after the read timeout."""
    control.fault("hang", provider="kimi")
    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        client.chat(ask("hi"), request_id="r", deadline=soon())
    assert caught.value.kind == "timeout" and caught.value.retryable
    assert READ_TIMEOUT_S <= time.monotonic() - started < READ_TIMEOUT_S + 1.5


def test_a_stream_that_goes_silent_times_out_too(client: KimiClient) -> None:
    """Silence after some chunks is a timeout, not a truncated success."""
    with pytest.raises(ProviderError) as caught:
        client.chat(ask("emulate:stall_after=2"), request_id="r", deadline=soon(), on_delta=lambda t, n: None)
    assert caught.value.kind == "timeout"


def test_a_dropped_connection_is_a_network_error(client: KimiClient, control: EmulatorControl) -> None:
    """A connection closed without an answer raises a retryable network error."""
    control.fault("disconnect", provider="kimi")
    with pytest.raises(ProviderError) as caught:
        client.chat(ask("hi"), request_id="r", deadline=soon())
    assert caught.value.kind == "network" and caught.value.retryable


def test_an_unreachable_provider_is_a_network_error() -> None:
    """Nothing listening on the port: a retryable network error naming the URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = KimiClient(KEY, base_url=f"http://127.0.0.1:{port}/v1", connect_timeout_s=2)
    with pytest.raises(ProviderError) as caught:
        client.chat(ask("hi"), request_id="r", deadline=soon())
    client.close()
    assert caught.value.kind == "network" and f"127.0.0.1:{port}" in caught.value.message


def test_cancelling_a_stalled_stream_ends_the_call_within_a_second(emulator_url: str) -> None:
    """Cancellation wakes a read blocked mid-stream and raises CallCancelled, not a provider error."""
    client = KimiClient(KEY, base_url=f"{emulator_url}/v1", read_timeout_s=30)
    token = CancelToken()
    first_delta = threading.Event()
    thread, cancelled_at = cancel_when(lambda: first_delta.wait(10), token)
    with pytest.raises(CallCancelled):
        client.chat(
            ask("emulate:stall_after=1"),
            request_id="r",
            deadline=soon(),
            cancel=token,
            on_delta=lambda text, n: first_delta.set(),
        )
    assert time.monotonic() - cancelled_at[0] < 1.0
    thread.join(5)
    client.close()


def test_cancelling_while_waiting_for_the_first_byte_ends_the_call_within_a_second(
    emulator_url: str, control: EmulatorControl
) -> None:
    """A plain call waiting on a silent provider is cut as soon as it is cancelled."""
    client = KimiClient(KEY, base_url=f"{emulator_url}/v1", read_timeout_s=30)
    control.fault("hang", provider="kimi")
    token = CancelToken()
    thread, cancelled_at = cancel_when(lambda: control.wait_in_flight("kimi"), token)
    with pytest.raises(CallCancelled):
        client.chat(ask("hi"), request_id="r", deadline=soon(), cancel=token)
    assert time.monotonic() - cancelled_at[0] < 1.0
    thread.join(5)
    client.close()


def test_a_call_cancelled_before_it_starts_never_reaches_the_provider(
    client: KimiClient, control: EmulatorControl
) -> None:
    """An already-set token raises CallCancelled without any HTTP call."""
    token = CancelToken()
    token.set()
    with pytest.raises(CallCancelled):
        client.chat(ask("hi"), request_id="r", deadline=soon(), cancel=token)
    assert control.stats()["calls"] == {"kimi": 0, "glm": 0}


def test_a_stream_running_past_its_deadline_raises_deadline_exceeded(emulator_url: str) -> None:
    """The deadline cuts a stream whose read timeout alone would wait much longer."""
    client = KimiClient(KEY, base_url=f"{emulator_url}/v1", read_timeout_s=30)
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded, match="deadline"):
        client.chat(
            ask("emulate:stall_after=1"), request_id="r", deadline=soon(1.0), on_delta=lambda text, n: None
        )
    assert 0.9 <= time.monotonic() - started < 2.0
    client.close()


def test_a_deadline_already_past_fails_at_once(client: KimiClient, control: EmulatorControl) -> None:
    """No call is made when no time is left."""
    with pytest.raises(DeadlineExceeded):
        client.chat(ask("hi"), request_id="r", deadline=time.time() - 1)
    assert control.stats()["calls"] == {"kimi": 0, "glm": 0}


def test_list_models_returns_the_provider_model_names(client: KimiClient) -> None:
    """GET /models is read into a list of model ids."""
    assert client.list_models(deadline=soon())[:2] == ["kimi-k2.6", "kimi-k3"]


def test_one_client_runs_more_calls_at_once_than_an_http_pool_default(
    emulator_url: str, control: EmulatorControl
) -> None:
    """150 simultaneous calls on one client all reach the provider together: no hidden connection cap."""
    calls = 150
    client = KimiClient(KEY, base_url=f"{emulator_url}/v1", read_timeout_s=30)
    with ThreadPoolExecutor(calls) as pool:
        slow = ask("emulate:latency_ms=1500")
        futures = [pool.submit(client.chat, slow, request_id=str(i), deadline=soon()) for i in range(calls)]
        answers = [f.result(timeout=30) for f in futures]
    client.close()
    assert len(answers) == calls
    assert control.stats()["max_in_flight"]["kimi"] == calls
