"""The old daemon's protocol, frame by frame, on the gateway's port and through the real Celery path."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from tests.support.clients import WAIT
from tests.support.stack import TOKEN, Stack, running_stack

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

HELLO_TIMEOUT_S = 2.0
MAX_IN_FLIGHT = 3


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The whole service, with a short hello deadline so the 4002 close can be seen quickly."""
    with running_stack(
        tmp_path_factory.mktemp("legacy"),
        EXAI_LEGACY_HELLO_TIMEOUT_S=str(HELLO_TIMEOUT_S),
        EXAI_CLIENT_MAX_IN_FLIGHT=str(MAX_IN_FLIGHT),
    ) as running:
        yield running


class OldClient:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def send(self, frame: dict[str, Any] | str) -> None:
        await self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    async def receive(self) -> dict[str, Any]:
        with anyio.fail_after(WAIT):
            frame: dict[str, Any] = json.loads(await self.ws.recv())
        return frame

    async def until(self, op: str, request_id: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The first frame with ``op`` for ``request_id``, and every frame seen before it."""
        seen = []
        while True:
            frame = await self.receive()
            if frame.get("op") == op and frame.get("request_id") == request_id:
                return frame, seen
            seen.append(frame)

    async def closed_with(self) -> int | None:
        with anyio.fail_after(WAIT):
            try:
                while True:
                    await self.ws.recv()
            except ConnectionClosed as exc:
                return exc.rcvd.code if exc.rcvd else None


@asynccontextmanager
async def old_client(stack: Stack, **kwargs: Any) -> AsyncIterator[OldClient]:
    async with connect(stack.gateway_url, **kwargs) as ws:
        yield OldClient(ws)


@asynccontextmanager
async def greeted(stack: Stack) -> AsyncIterator[OldClient]:
    async with old_client(stack) as client:
        await client.send({"op": "hello", "token": TOKEN, "session_id": "s-1"})
        ack = await client.receive()
        assert ack["op"] == "hello_ack" and ack["ok"] is True and ack["session_id"] == "s-1"
        yield client


async def test_hello_list_tools_and_a_chat_call_go_ack_progress_result(stack: Stack) -> None:
    """hello → hello_ack; list_tools → list_tools_res; call_tool → ack with the timeout, progress
    heartbeats, then call_tool_res with outputs and text."""
    async with greeted(stack) as client:
        await client.send({"op": "list_tools", "request_id": "l1"})
        listing, _ = await client.until("list_tools_res", "l1")
        names = {tool["name"] for tool in listing["tools"]}
        assert {"chat", "listmodels", "version"} <= names
        assert all({"name", "description", "inputSchema"} <= set(t) for t in listing["tools"])

        prompt = "old protocol emulate:latency_ms=2500"
        await client.send(
            {"op": "call_tool", "request_id": "c1", "name": "chat", "arguments": {"prompt": prompt}}
        )
        result, before = await client.until("call_tool_res", "c1")
    ack = before[0]
    assert ack == {
        "op": "call_tool_ack",
        "request_id": "c1",
        "accepted": True,
        "timeout": 600.0,
        "name": "chat",
    }
    beats = [f for f in before if f["op"] == "progress"]
    assert beats and all(f["request_id"] == "c1" and f["name"] == "chat" for f in beats)
    assert [f["t"] for f in beats] == sorted(f["t"] for f in beats)
    assert "error" not in result
    assert result["outputs"] == [{"type": "text", "text": result["text"]}]
    envelope = json.loads(result["text"])
    assert envelope["status"] == "success" and "old protocol" in envelope["content"]


async def test_tool_call_alias_with_an_old_suffix_runs_the_tool(stack: Stack) -> None:
    """`tool_call` with `tool: {name}` and a `_EXAI-WS` suffix reaches `version`."""
    async with greeted(stack) as client:
        await client.send(
            {"op": "tool_call", "request_id": 7, "tool": {"name": "version_EXAI-WS"}, "arguments": {}}
        )
        result, before = await client.until("call_tool_res", 7)
    assert before[0]["op"] == "call_tool_ack" and before[0]["name"] == "version"
    assert "error" not in result and json.loads(result["text"])["version"]


async def test_every_error_carries_the_request_id(stack: Stack) -> None:
    """Unknown tool, bad arguments and unknown ops are answered with their request_id and a code."""
    async with greeted(stack) as client:
        await client.send({"op": "call_tool", "request_id": "e1", "name": "nope", "arguments": {}})
        missing, _ = await client.until("call_tool_res", "e1")
        await client.send({"op": "call_tool", "request_id": "e2", "name": "chat", "arguments": {"prompt": 5}})
        invalid, _ = await client.until("call_tool_res", "e2")
        await client.send({"op": "frobnicate", "request_id": "e3"})
        unknown, _ = await client.until("error", "e3")
    assert missing["error"]["code"] == "TOOL_NOT_FOUND"
    assert invalid["error"]["code"] == "INVALID_REQUEST" and "prompt" in invalid["error"]["message"]
    assert unknown["error"]["code"] == "INVALID_REQUEST"


async def test_provider_failures_come_back_as_provider_errors(stack: Stack) -> None:
    """A quota error from the provider is a call_tool_res with error PROVIDER_ERROR."""
    stack.fault("quota", count=1)
    async with greeted(stack) as client:
        await client.send(
            {"op": "call_tool", "request_id": "q", "name": "chat", "arguments": {"prompt": "x"}}
        )
        result, _ = await client.until("call_tool_res", "q")
    assert result["error"]["code"] == "PROVIDER_ERROR"
    assert result["text"] == result["error"]["message"]


async def test_a_wrong_token_in_hello_is_refused_and_closed_with_4003(stack: Stack) -> None:
    """hello_ack ok:false with an error, then close code 4003."""
    async with old_client(stack) as client:
        await client.send({"op": "hello", "token": "wrong-token-0000000000"})
        ack = await client.receive()
        assert ack["op"] == "hello_ack" and ack["ok"] is False and ack["error"]["code"] == "UNAUTHORIZED"
        assert await client.closed_with() == 4003


async def test_no_hello_closes_with_4002_and_invalid_json_with_4000(stack: Stack) -> None:
    """A first frame that is not hello, or no frame in time, closes 4002; bad JSON closes 4000."""
    async with old_client(stack) as client:
        await client.send({"op": "list_tools", "request_id": 1})
        assert await client.closed_with() == 4002
    async with old_client(stack) as client:
        assert await client.closed_with() == 4002  # nothing sent within the hello deadline
    async with old_client(stack) as client:
        await client.send("{not json")
        assert await client.closed_with() == 4000


async def test_mcp_clients_without_a_token_still_get_401_and_authenticated_ones_may_say_hello(
    stack: Stack,
) -> None:
    """Offering the mcp subprotocol without a token is refused at the handshake; a handshake with a
    token may open the old protocol with a hello that carries none."""
    with pytest.raises(InvalidStatus) as refused:
        async with connect(stack.gateway_url, subprotocols=[Subprotocol("mcp")]):
            pass
    assert refused.value.response.status_code == 401
    async with old_client(stack, additional_headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        await client.send({"op": "hello"})
        ack = await client.receive()
    assert ack["ok"] is True


async def test_cancel_stops_a_call_and_answers_it(stack: Stack) -> None:
    """`cancel` ends a running call with a CANCELLED call_tool_res."""
    async with greeted(stack) as client:
        await client.send(
            {
                "op": "call_tool",
                "request_id": "k",
                "name": "chat",
                "arguments": {"prompt": "emulate:latency_ms=20000"},
            }
        )
        await client.until("call_tool_ack", "k")
        await client.send({"op": "cancel", "request_id": "k"})
        result, _ = await client.until("call_tool_res", "k")
    assert result["error"]["code"] == "CANCELLED"


async def test_a_client_over_its_limit_gets_over_capacity_with_retry_after(stack: Stack) -> None:
    """The per-client in-flight limit of MCP sessions applies here too, as OVER_CAPACITY."""
    slow = {"prompt": "emulate:latency_ms=20000"}
    async with greeted(stack) as client:
        for i in range(MAX_IN_FLIGHT):
            await client.send({"op": "call_tool", "request_id": f"s{i}", "name": "chat", "arguments": slow})
            await client.until("call_tool_ack", f"s{i}")
        await client.send({"op": "call_tool", "request_id": "over", "name": "chat", "arguments": slow})
        refused, _ = await client.until("call_tool_res", "over")
        for i in range(MAX_IN_FLIGHT):
            await client.send({"op": "cancel", "request_id": f"s{i}"})
            await client.until("call_tool_res", f"s{i}")
    assert refused["error"]["code"] == "OVER_CAPACITY" and refused["error"]["retry_after"] >= 0
