"""Input rounds: MRTR for modern calls and prompts, server→client requests for legacy sessions."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.core.peer import MODERN
from tests.gateway.core.memory import (
    MODERN_VERSION,
    Harness,
    elicit,
    modern,
    notes,
    results,
    settle,
)
from tests.gateway.core.methods.fixtures import pack_catalog
from tests.support.mcp_types_oracle import server_request, server_result

ELICITING = {"elicitation": {}}
NAME = {"action": "accept", "content": {"name": "Ada"}}


def ask_round(harness: Harness, **extra: Any) -> tuple[str, dict[str, Any]]:
    """A modern call whose first round asks for a name: (call id, its input_required result)."""
    params = modern({"name": "version", "arguments": {}, **extra}, ELICITING)
    conn, _ = harness.post(1, "tools/call", params)
    job = harness.last_job()
    harness.ask(job.call_id, {"user_name": elicit()}, {"step": 1})
    (answer,) = conn.sink.take()
    return job.call_id, answer["result"]


def test_a_modern_round_that_asks_is_answered_input_required_with_a_sealed_state() -> None:
    """resultType input_required, the requests as asked, a requestState string, no cache hints."""
    harness = Harness()
    _, result = ask_round(harness)
    assert result["resultType"] == "input_required"
    assert result["inputRequests"] == {"user_name": elicit()}
    assert isinstance(result["requestState"], str) and "ttlMs" not in result
    server_result("tools/call", MODERN_VERSION, result)


def test_the_retry_with_the_state_is_the_next_round_of_the_same_call_on_any_process() -> None:
    """Same call id, round 1, the tool's continuation and the answers; a fresh harness (another
    gateway process with the same key) accepts the state too."""
    harness = Harness()
    call_id, result = ask_round(harness)
    other = Harness()
    retry = modern(
        {
            "name": "version",
            "arguments": {},
            "inputResponses": {"user_name": NAME},
            "requestState": result["requestState"],
        },
        ELICITING,
    )
    conn, frames = other.post(2, "tools/call", retry)
    assert frames == []
    job = other.last_job()
    assert (job.call_id, job.round, job.continuation) == (call_id, 1, {"step": 1})
    assert job.input_responses == {"user_name": NAME}
    other.finish(job.call_id, "Hello, Ada!")
    assert conn.sink.take()[0]["result"]["content"][0]["text"] == "Hello, Ada!"


@pytest.mark.parametrize(
    "change",
    ["tampered", "other identity", "other arguments", "other tool", "expired"],
)
def test_a_state_that_does_not_belong_to_this_request_is_one_invalid_params(change: str) -> None:
    """Tampered, presented by someone else, for other arguments or another tool, or too old: -32602
    that never says which, and nothing is queued."""
    harness = Harness()
    _, result = ask_round(harness)
    state, identity, name, arguments = result["requestState"], "alice", "version", {}
    if change == "tampered":
        state += "-TAMPERED"
    elif change == "other identity":
        identity = "bob"
    elif change == "other arguments":
        name, arguments = "chat", {"prompt": "x"}
    elif change == "other tool":
        name = "listmodels"
    else:
        harness.clock.advance(harness.settings.exai_request_state_ttl_s + 2)
    queued = len(harness.calls.jobs)
    params = modern(
        {"name": name, "arguments": arguments, "inputResponses": {"user_name": NAME}, "requestState": state},
        ELICITING,
    )
    _, (answer,) = harness.post(2, "tools/call", params, identity=identity)
    assert answer["error"]["code"] == -32602 and "requestState" in answer["error"]["message"]
    assert len(harness.calls.jobs) == queued


def test_answers_without_a_state_go_to_a_first_round_and_malformed_ones_are_refused() -> None:
    """inputResponses alone reach round 0 (extra keys and all); null or a number as an answer: -32602."""
    harness = Harness()
    extra = {"user_name": NAME, "unknown_extra_key": {"action": "accept", "content": {}}}
    harness.post(
        1, "tools/call", modern({"name": "version", "arguments": {}, "inputResponses": extra}, ELICITING)
    )
    assert harness.last_job().round == 0 and harness.last_job().input_responses == extra
    for bad in (None, {"user_name": 12345}, [1]):
        _, (answer,) = harness.post(
            2, "tools/call", modern({"name": "version", "arguments": {}, "inputResponses": bad})
        )
        assert answer["error"]["code"] == -32602


def test_rounds_are_bounded() -> None:
    """Past EXAI_INPUT_MAX_ROUNDS a retry is an isError result saying so."""
    harness = Harness(exai_input_max_rounds=1)
    call_id, result = ask_round(harness)
    params = modern(
        {
            "name": "version",
            "arguments": {},
            "inputResponses": {"user_name": NAME},
            "requestState": result["requestState"],
        },
        ELICITING,
    )
    conn, _ = harness.post(2, "tools/call", params)
    harness.ask(call_id, {"again": elicit()})
    (answer,) = conn.sink.take()
    assert (
        answer["result"]["isError"] is True
        and "EXAI_INPUT_MAX_ROUNDS" in answer["result"]["content"][0]["text"]
    )


def test_a_legacy_session_is_asked_with_server_requests_and_gets_the_plain_result_at_the_end() -> None:
    """elicitation/create goes to the client; its answer starts round 1 (same call id); the
    original request finally gets the result."""
    harness = Harness()
    conn = harness.connect()
    conn.initialize({"elicitation": {}})
    conn.request(1, "tools/call", {"name": "version", "arguments": {}})
    job = harness.last_job()
    assert job.client_capabilities == {"elicitation": {}}
    harness.ask(job.call_id, {"user_name": elicit()}, {"step": 1})
    (asked,) = conn.sink.take()
    assert asked["method"] == "elicitation/create" and isinstance(asked["id"], str)
    server_request("elicitation/create", "2025-11-25", asked["params"])
    assert conn.send({"jsonrpc": "2.0", "id": asked["id"], "result": NAME}) == []
    following = harness.last_job()
    assert (following.call_id, following.round, following.input_responses) == (
        job.call_id,
        1,
        {"user_name": NAME},
    )
    harness.finish(job.call_id, "Hello, Ada!")
    (answer,) = results(conn.sink.take())
    assert answer["id"] == 1 and answer["result"]["content"][0]["text"] == "Hello, Ada!"


def test_a_legacy_call_cancelled_while_asking_forgets_its_questions() -> None:
    """A late answer to a cancelled call's question starts nothing."""
    harness = Harness()
    conn = harness.connect()
    conn.initialize({"elicitation": {}})
    conn.request(1, "tools/call", {"name": "version", "arguments": {}})
    job = harness.last_job()
    harness.ask(job.call_id, {"user_name": elicit()})
    (asked,) = conn.sink.take()
    conn.notify("notifications/cancelled", {"requestId": 1})
    conn.send({"jsonrpc": "2.0", "id": asked["id"], "result": NAME})
    assert harness.last_job() is job and conn.channel.asked == {}


@pytest.mark.anyio
async def test_a_prompt_asking_first_is_input_required_for_a_modern_request_and_then_rendered() -> None:
    """prompts/get of a pack prompt that needs a topic: input_required, then messages."""
    harness = Harness(catalog=pack_catalog())
    conn, _ = harness.post(1, "prompts/get", modern({"name": "asks_first"}, ELICITING))
    await settle()
    (first,) = conn.sink.take()
    assert first["result"]["resultType"] == "input_required" and "topic" in first["result"]["inputRequests"]
    answers = {"topic": {"action": "accept", "content": {"topic": "owls"}}}
    retry = modern(
        {"name": "asks_first", "inputResponses": answers, "requestState": first["result"]["requestState"]},
        ELICITING,
    )
    conn, _ = harness.post(2, "prompts/get", retry)
    await settle()
    (second,) = conn.sink.take()
    assert second["result"]["messages"][0]["content"]["text"] == "About owls"
    server_result("prompts/get", MODERN_VERSION, second["result"])


@pytest.mark.anyio
async def test_a_prompt_asking_first_asks_a_legacy_session_with_a_server_request() -> None:
    """Legacy: elicitation/create on the connection, then the rendered prompt answers the request."""
    harness = Harness(catalog=pack_catalog())
    conn = harness.connect()
    conn.initialize({"elicitation": {}})
    conn.request(1, "prompts/get", {"name": "asks_first"})
    await settle()
    (asked,) = conn.sink.take()
    assert asked["method"] == "elicitation/create"
    conn.send(
        {"jsonrpc": "2.0", "id": asked["id"], "result": {"action": "accept", "content": {"topic": "owls"}}}
    )
    await settle()
    (answer,) = conn.sink.take()
    assert answer["id"] == 1 and answer["result"]["messages"][0]["content"]["text"] == "About owls"


def test_a_modern_stream_carries_input_required_too() -> None:
    """On a modern WebSocket the same MRTR result (no server requests on the stream)."""
    harness = Harness()
    conn = harness.connect(era=MODERN)
    conn.request(1, "tools/call", modern({"name": "version", "arguments": {}}, ELICITING))
    harness.ask(harness.last_job().call_id, {"k": elicit()})
    frames = conn.sink.take()
    assert notes(frames) == [] and frames[0]["result"]["resultType"] == "input_required"
