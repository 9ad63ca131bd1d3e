"""The emulator as a real process, spoken to over loopback HTTP."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from contracts.models import DEFAULT_MODELS
from tests.support.emulator import EmulatorControl, running_emulator

BASES = {"kimi": "/v1", "glm": "/api/paas/v4"}
MODELS = {"kimi": "kimi-k2.6", "glm": "glm-4.6"}
AUTH = {"Authorization": "Bearer test-key"}


@pytest.fixture
def http(emulator_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator_url, timeout=10) as client:
        yield client


def chat(http: httpx.Client, provider: str, prompt: str, **body: Any) -> httpx.Response:
    payload = {"model": MODELS[provider], "messages": [{"role": "user", "content": prompt}], **body}
    return http.post(f"{BASES[provider]}/chat/completions", json=payload, headers=AUTH)


def sse_chunks(response: httpx.Response) -> list[Any]:
    events = [line.removeprefix("data: ") for line in response.text.split("\n\n") if line]
    assert events[-1] == "[DONE]"
    return [json.loads(event) for event in events[:-1]]


@pytest.mark.parametrize("provider", ["kimi", "glm"])
def test_models_lists_the_configured_default_models(http: httpx.Client, provider: str) -> None:
    """GET /models answers an OpenAI-style list with the provider's default model names."""
    answer = http.get(f"{BASES[provider]}/models", headers=AUTH).json()
    assert answer["object"] == "list"
    assert [m["id"] for m in answer["data"]] == [m.name for m in DEFAULT_MODELS[provider]]


@pytest.mark.parametrize("provider", ["kimi", "glm"])
def test_plain_chat_echoes_the_last_user_message_and_counts_words(http: httpx.Client, provider: str) -> None:
    """A plain call answers the header plus the prompt, with words counted as tokens."""
    payload = {
        "model": MODELS[provider],
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "what colour is the sky"},
        ],
    }
    body = http.post(f"{BASES[provider]}/chat/completions", json=payload, headers=AUTH).json()
    choice = body["choices"][0]
    assert choice["message"]["content"] == f"[emulated {provider} {MODELS[provider]}] what colour is the sky"
    assert choice["finish_reason"] == "stop"
    assert body["usage"] == {"prompt_tokens": 7, "completion_tokens": 8, "total_tokens": 15}


@pytest.mark.parametrize("provider", ["kimi", "glm"])
def test_stream_sends_one_chunk_per_token_and_usage_where_the_provider_does(
    http: httpx.Client, provider: str
) -> None:
    """Streaming yields N content chunks, then usage at the top level (GLM) or in choices[0] (Kimi)."""
    chunks = sse_chunks(chat(http, provider, "count emulate:tokens=12", stream=True))
    deltas = [c["choices"][0]["delta"].get("content") for c in chunks[:-1]]
    assert len(deltas) == 12
    header = f"[emulated {provider} {MODELS[provider]}]"
    assert "".join(deltas).startswith(f"{header} count emulate:tokens=12 lorem")
    last = chunks[-1]
    usage = last["usage"] if provider == "glm" else last["choices"][0]["usage"]
    assert usage == {"prompt_tokens": 2, "completion_tokens": 12, "total_tokens": 14}
    assert last["choices"][0]["finish_reason"] == "stop"


def test_tokens_directive_cuts_a_long_prompt_to_exactly_n_tokens(http: httpx.Client) -> None:
    """emulate:tokens=N below the echo length cuts the reply to N words."""
    text = chat(http, "kimi", "a b c d e f emulate:tokens=4").json()["choices"][0]["message"]["content"]
    assert text == "[emulated kimi kimi-k2.6] a"


def test_max_tokens_cuts_the_reply_and_reports_length(http: httpx.Client) -> None:
    """max_tokens below the reply length ends it early with finish_reason "length"."""
    body = chat(http, "glm", "one two three four", max_tokens=5).json()
    assert body["choices"][0]["message"]["content"] == "[emulated glm glm-4.6] one two"
    assert body["choices"][0]["finish_reason"] == "length"


def test_reasoning_and_tool_directives_produce_reasoning_and_a_streamed_tool_call(http: httpx.Client) -> None:
    """emulate:reasoning and emulate:tool add reasoning_content and a tool call split over chunks."""
    prompt = "look it up emulate:reasoning=3 emulate:tool=search"
    chunks = sse_chunks(chat(http, "kimi", prompt, stream=True))
    deltas = [c["choices"][0]["delta"] for c in chunks[:-1]]
    assert "".join(d.get("reasoning_content", "") for d in deltas) == "thinking about the"
    pieces = [d["tool_calls"][0] for d in deltas if "tool_calls" in d]
    assert len(pieces) > 1 and pieces[0]["function"]["name"] == "search"
    arguments = "".join(p["function"]["arguments"] for p in pieces)
    assert json.loads(arguments) == {"echo": prompt}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


@pytest.mark.parametrize("provider", ["kimi", "glm"])
def test_a_call_without_a_bearer_key_gets_the_providers_auth_error(http: httpx.Client, provider: str) -> None:
    """No Authorization header: 401 with the provider's own authentication body."""
    payload = {"model": MODELS[provider], "messages": [{"role": "user", "content": "hi"}]}
    answer = http.post(f"{BASES[provider]}/chat/completions", json=payload)
    assert answer.status_code == 401
    error = answer.json()["error"]
    assert (error.get("type") if provider == "kimi" else error.get("code")) == (
        "invalid_authentication_error" if provider == "kimi" else "1002"
    )


@pytest.mark.parametrize(
    ("provider", "kind", "status", "field", "value"),
    [
        ("kimi", "rate_limit", 429, "type", "rate_limit_reached_error"),
        ("kimi", "overloaded", 429, "type", "engine_overloaded_error"),
        ("kimi", "quota", 429, "type", "exceeded_current_quota_error"),
        ("kimi", "auth", 401, "type", "invalid_authentication_error"),
        ("kimi", "server_error", 500, "type", "server_error"),
        ("glm", "rate_limit", 429, "code", "1302"),
        ("glm", "overloaded", 429, "code", "1312"),
        ("glm", "quota", 429, "code", "1308"),
        ("glm", "auth", 401, "code", "1002"),
        ("glm", "server_error", 500, "code", "500"),
    ],
)
def test_queued_faults_answer_with_the_providers_real_error_body(
    http: httpx.Client,
    control: EmulatorControl,
    provider: str,
    kind: str,
    status: int,
    field: str,
    value: str,
) -> None:
    """A fault queued for N calls answers exactly N calls with the provider's error, then clears."""
    control.fault(kind, provider=provider, count=2)
    answers = [chat(http, provider, "hi") for _ in range(3)]
    assert [a.status_code for a in answers] == [status, status, 200]
    assert answers[0].json()["error"][field] == value
    assert control.stats()["faults_pending"] == []


def test_rate_limit_fault_sends_retry_after(http: httpx.Client, control: EmulatorControl) -> None:
    """retry_after on a fault becomes a Retry-After header in whole seconds, rounded up."""
    control.fault("rate_limit", provider="kimi", retry_after=1.5)
    assert chat(http, "kimi", "hi").headers["Retry-After"] == "2"


def test_a_fault_for_one_provider_leaves_the_other_alone(
    http: httpx.Client, control: EmulatorControl
) -> None:
    """A GLM fault does not touch Kimi calls."""
    control.fault("server_error", provider="glm")
    assert chat(http, "kimi", "hi").status_code == 200
    assert chat(http, "glm", "hi").status_code == 500


def test_count_minus_one_is_an_outage_until_reset(http: httpx.Client, control: EmulatorControl) -> None:
    """count -1 faults every call until POST /_emulator/reset."""
    control.fault("overloaded", count=-1)
    assert [chat(http, p, "hi").status_code for p in ("kimi", "glm", "kimi")] == [429, 429, 429]
    control.reset()
    assert chat(http, "kimi", "hi").status_code == 200


def test_disconnect_drops_the_connection_without_an_answer(
    http: httpx.Client, control: EmulatorControl
) -> None:
    """The disconnect fault closes the TCP connection before any HTTP response."""
    control.fault("disconnect", provider="glm")
    with pytest.raises(httpx.RemoteProtocolError):
        chat(http, "glm", "hi")


def test_hang_blocks_only_its_own_call_until_the_client_gives_up(
    emulator_url: str, http: httpx.Client, control: EmulatorControl
) -> None:
    """A hung call never answers, other calls still do, and it ends when its client leaves."""
    control.fault("hang", provider="kimi")
    with (
        httpx.Client(base_url=emulator_url, timeout=httpx.Timeout(10, read=0.5)) as impatient,
        pytest.raises(httpx.ReadTimeout),
    ):
        chat(impatient, "kimi", "hi")
    assert chat(http, "kimi", "next").status_code == 200
    deadline = time.monotonic() + 5
    while control.stats()["in_flight"] != {"kimi": 0, "glm": 0}:
        assert time.monotonic() < deadline, "the hung call was not dropped after its client left"
        time.sleep(0.02)


def test_reset_releases_hung_calls(emulator_url: str, control: EmulatorControl) -> None:
    """POST /_emulator/reset drops the connections of calls that hang."""
    control.fault("hang", provider="glm")
    failure: list[BaseException] = []

    def call() -> None:
        with httpx.Client(base_url=emulator_url, timeout=10) as client:
            try:
                chat(client, "glm", "hi")
            except httpx.HTTPError as exc:
                failure.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    control.wait_in_flight("glm")
    control.reset()
    caller.join(5)
    assert not caller.is_alive()
    assert isinstance(failure[0], httpx.RemoteProtocolError)


def test_stats_count_calls_by_provider_and_request_id(http: httpx.Client, control: EmulatorControl) -> None:
    """Request ids come from X-Request-ID, or from GLM's request_id body field."""
    payload = {"model": "kimi-k2.6", "messages": [{"role": "user", "content": "hi"}]}
    for _ in range(2):
        http.post("/v1/chat/completions", json=payload, headers={**AUTH, "X-Request-ID": "call-1"})
    glm_payload = {**payload, "model": "glm-4.6", "request_id": "call-2"}
    http.post("/api/paas/v4/chat/completions", json=glm_payload, headers=AUTH)
    stats = control.stats()
    assert stats["calls"] == {"kimi": 2, "glm": 1}
    assert stats["by_request_id"] == {"call-1": 2, "call-2": 1}
    assert stats["last_body"]["glm"]["request_id"] == "call-2"


def test_in_flight_and_max_in_flight_track_concurrent_calls(
    emulator_url: str, control: EmulatorControl
) -> None:
    """Two slow calls at once show up as max_in_flight 2."""

    def call() -> None:
        with httpx.Client(base_url=emulator_url, timeout=10) as client:
            chat(client, "kimi", "slow emulate:latency_ms=1500")

    callers = [threading.Thread(target=call) for _ in range(2)]
    for caller in callers:
        caller.start()
    control.wait_in_flight("kimi", 2)
    for caller in callers:
        caller.join(10)
    assert control.stats()["max_in_flight"] == {"kimi": 2, "glm": 0}


def test_bad_fault_specs_are_refused_with_a_reason(http: httpx.Client) -> None:
    """An unknown kind or a zero count is a 400 naming the problem."""
    for spec, word in (({"kind": "melt"}, "kind"), ({"kind": "hang", "count": 0}, "count")):
        answer = http.post("/_emulator/faults", json=spec)
        assert answer.status_code == 400
        assert word in answer.json()["error"]


def test_bad_directive_or_body_is_the_providers_invalid_request_error(http: httpx.Client) -> None:
    """A malformed emulate: directive or body gets the provider's 400 error shape."""
    answer = chat(http, "kimi", "emulate:tokens=many")
    assert answer.status_code == 400
    assert answer.json()["error"]["type"] == "invalid_request_error"
    answer = http.post("/api/paas/v4/chat/completions", json={"model": "glm-4.6"}, headers=AUTH)
    assert answer.status_code == 400
    assert "messages" in answer.json()["error"]["message"]


def test_latency_directive_delays_the_first_byte(http: httpx.Client) -> None:
    """emulate:latency_ms holds the answer back for at least that long."""
    started = time.monotonic()
    assert chat(http, "glm", "wait emulate:latency_ms=300").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_tokens_per_second_paces_the_stream(http: httpx.Client) -> None:
    """Six tokens at 20 per second take at least 0.3 s to stream."""
    started = time.monotonic()
    chunks = sse_chunks(chat(http, "kimi", "go emulate:tokens=6 emulate:tokens_per_second=20", stream=True))
    assert len(chunks) == 7
    assert time.monotonic() - started >= 0.3


def test_health_answers_ok(http: httpx.Client) -> None:
    """GET /_emulator/health is 200."""
    assert http.get("/_emulator/health").json() == {"status": "ok"}


def test_cli_latency_flag_applies_to_every_call() -> None:
    """--latency-ms set at start delays calls that do not override it."""
    with running_emulator(latency_ms=300) as url, httpx.Client(base_url=url, timeout=10) as client:
        started = time.monotonic()
        assert chat(client, "kimi", "hi").status_code == 200
        assert time.monotonic() - started >= 0.3


def test_stream_times_record_when_each_chunk_of_a_request_left(
    http: httpx.Client, control: EmulatorControl
) -> None:
    """A paced stream's chunk send times are kept per request id, in order, about 1/rate apart."""
    headers = {**AUTH, "X-Request-ID": "timed-stream-1"}
    body = {
        "model": "kimi-k2.6",
        "stream": True,
        "messages": [{"role": "user", "content": "pace emulate:tokens=5 emulate:tokens_per_second=50"}],
    }
    with http.stream("POST", "/v1/chat/completions", json=body, headers=headers) as response:
        response.read()
    times = http.get("/_emulator/stream_times", params={"request_id": "timed-stream-1"}).json()["times"]
    assert len(times) == 5
    assert times == sorted(times)
    assert times[-1] - times[0] >= 4 / 50 * 0.9
    assert http.get("/_emulator/stream_times", params={"request_id": "unknown"}).json() == {"times": []}


def test_stats_count_the_tcp_connections_accepted(emulator_url: str, control: EmulatorControl) -> None:
    """Calls on one kept-alive connection count one connection; a fresh client opens another."""
    for _ in range(2):
        with httpx.Client(base_url=emulator_url, timeout=10) as client:
            for _ in range(3):
                chat(client, "kimi", "hi")
    assert control.stats()["connections"] == 3  # the two clients', and the stats request's own
