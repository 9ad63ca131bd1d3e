"""Streamable HTTP in the 2026-07-28 era, frame by frame over httpx, against the real stack.

No session: each POST carries its envelope and headers; immediate answers are JSON with the status
of their error; calls and listen streams are SSE with ``X-Accel-Buffering: no``; closing a call's
stream cancels it on the workers; and a modern request may reach any gateway process (an input
round's ``requestState`` sealed by one is accepted by another; a task created on one is read on
another). The fixture pack provides the tools that ask for input.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest
import redis

from contracts.job import Outcome
from contracts.names import result_key
from tests.support.clients import WAIT
from tests.support.modern_http import AUTH, VERSION, answer_of, body, headers, post, stream
from tests.support.stack import Stack, gateway_urls, running_stack

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

TASKS = "io.modelcontextprotocol/tasks"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(
        tmp_path_factory.mktemp("http-modern"), EXAI_TOOL_PACKS="tests.conformance.fixture_pack"
    ) as running:
        yield running


@pytest.fixture(scope="module")
def other_gateway(stack: Stack) -> Iterator[str]:
    """A second gateway process on the same Redis: its Streamable HTTP endpoint."""
    gateway = stack.spawn_gateway("second-gateway", stack.env)
    try:
        yield gateway_urls(gateway)[1]
    finally:
        gateway.stop()


async def test_an_immediate_answer_is_json_and_no_session_is_minted_or_needed(stack: Stack) -> None:
    """server/discover answers JSON 200 with resultType; a session id sent along is ignored and
    none comes back."""
    response = await post(stack.http_url, body(1, "server/discover"), **{"Mcp-Session-Id": "made-up"})
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
    assert "Mcp-Session-Id" not in response.headers
    assert response.json()["result"]["supportedVersions"] == [VERSION]


async def test_a_call_streams_progress_then_its_result_over_unbuffered_sse(stack: Stack) -> None:
    """text/event-stream, no proxy buffering, progress under the token, then the result."""
    message = body(
        2, "tools/call", {"name": "test_tool_with_progress", "arguments": {}, "_meta": {"progressToken": "p"}}
    )
    seen: list[dict[str, Any]] = []
    async with stream(stack.http_url, message) as (response, events):
        assert response.headers["Content-Type"].startswith("text/event-stream")
        assert (
            response.headers["X-Accel-Buffering"] == "no" and response.headers["Cache-Control"] == "no-cache"
        )
        async for event in events:
            seen.append(event)
    progress = [e["params"]["progress"] for e in seen if e.get("method") == "notifications/progress"]
    assert len(progress) >= 3 and progress == sorted(progress)
    assert seen[-1]["id"] == 2 and seen[-1]["result"]["resultType"] == "complete"


@pytest.mark.parametrize(
    ("change", "code", "status"),
    [
        ({"MCP-Protocol-Version": "2025-11-25"}, -32020, 400),
        ({"Mcp-Method": "tools/list"}, -32020, 400),
        ({"Mcp-Name": "another_tool"}, -32020, 400),
    ],
)
async def test_headers_that_disagree_with_the_body_are_header_mismatch(
    stack: Stack, change: dict[str, str], code: int, status: int
) -> None:
    """MCP-Protocol-Version, Mcp-Method and Mcp-Name must say what the body says: -32020, 400."""
    response = await post(
        stack.http_url, body(3, "tools/call", {"name": "greet", "arguments": {"name": "x"}}), **change
    )
    assert response.status_code == status and response.json()["error"]["code"] == code
    assert response.json()["id"] == 3


async def test_a_base64_name_header_is_decoded_before_comparing(stack: Stack) -> None:
    """Mcp-Name as =?base64?…?= names the tool as plainly as its value would."""
    message = body(4, "tools/call", {"name": "greet", "arguments": {"name": "Ada"}})
    answer = await answer_of_with(stack.http_url, message, {"Mcp-Name": "=?base64?Z3JlZXQ=?="})
    assert answer["result"]["content"][0]["text"] == "Hello, Ada!"


async def answer_of_with(url: str, message: dict[str, Any], extra: dict[str, str]) -> dict[str, Any]:
    async with (
        httpx.AsyncClient(timeout=WAIT) as client,
        client.stream("POST", url, json=message, headers=headers(message, **extra)) as response,
    ):
        async for line in response.aiter_lines():
            if line.startswith("data: ") and "method" not in json.loads(line[6:]):
                return dict(json.loads(line[6:]))
    raise AssertionError("no answer")


async def test_get_delete_and_unknown_methods_follow_the_modern_rules(stack: Stack) -> None:
    """GET and DELETE with a modern version: 405; an unknown method: 404 with -32601 and its id."""
    async with httpx.AsyncClient(timeout=WAIT) as client:
        modern = {**AUTH, "MCP-Protocol-Version": VERSION}
        assert (
            await client.get(stack.http_url, headers={**modern, "Accept": "text/event-stream"})
        ).status_code == 405
        assert (await client.delete(stack.http_url, headers=modern)).status_code == 405
    response = await post(stack.http_url, body(5, "nothing/here"))
    assert (
        response.status_code == 404
        and response.json()["error"]["code"] == -32601
        and response.json()["id"] == 5
    )


async def test_closing_a_calls_stream_cancels_the_call_on_the_workers(stack: Stack) -> None:
    """The client closes the SSE stream of a running call: a CANCELLED outcome is stored for it."""
    message = body(
        6,
        "tools/call",
        {
            "name": "slow_compute",
            "arguments": {"seconds": 30, "label": "close-me"},
            "_meta": {"progressToken": 1},
        },
    )
    call_id = None
    async with stream(stack.http_url, message) as (response, events):
        assert response.headers["Content-Type"].startswith("text/event-stream")
        async for event in events:
            if event.get("method") == "notifications/progress":
                break  # the worker runs it: now leave
    r = redis.Redis.from_url(stack.env["REDIS_URL"])
    with anyio.fail_after(WAIT):
        while call_id is None:
            for key in r.scan_iter(result_key("*")):
                outcome = Outcome.model_validate_json(r.get(key) or b"{}")
                if outcome.error_code == "CANCELLED":
                    call_id = outcome.call_id
            await anyio.sleep(0.1)  # polling Redis for the outcome, bounded above


async def test_an_input_rounds_state_sealed_by_one_gateway_is_accepted_by_another(
    stack: Stack, other_gateway: str
) -> None:
    """MRTR across processes: round 1 on the first gateway, the retry on the second one."""
    first = await answer_of(
        stack.http_url,
        body(
            7,
            "tools/call",
            {"name": "test_input_required_result_request_state", "arguments": {}},
            elicitation={},
        ),
    )
    result = first["result"]
    assert result["resultType"] == "input_required"
    retry = {
        "name": "test_input_required_result_request_state",
        "arguments": {},
        "inputResponses": {"confirm": {"action": "accept", "content": {"ok": True}}},
        "requestState": result["requestState"],
    }
    second = await answer_of(other_gateway, body(8, "tools/call", retry, elicitation={}))
    assert "state-ok" in second["result"]["content"][0]["text"]


async def test_a_task_created_on_one_gateway_is_read_and_finished_on_another(
    stack: Stack, other_gateway: str
) -> None:
    """The durable record and outcomes live in Redis: tasks/get on the second process follows it."""
    created = await answer_of(
        stack.http_url,
        body(
            9, "tools/call", {"name": "slow_compute", "arguments": {"seconds": 0.5}}, extensions={TASKS: {}}
        ),
    )
    task_id = created["result"]["taskId"]
    with anyio.fail_after(WAIT):
        while True:
            got = await answer_of(
                other_gateway, body(10, "tasks/get", {"taskId": task_id}, extensions={TASKS: {}})
            )
            if got["result"]["status"] == "completed":
                break
            await anyio.sleep(0.2)  # polling at the task's poll interval, bounded above
    assert got["result"]["result"]["content"][0]["text"].startswith("slow_compute: computed")
