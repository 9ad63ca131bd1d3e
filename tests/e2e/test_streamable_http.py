"""MCP Streamable HTTP on the gateway, with the official client and frame by frame over httpx."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.support.clients import WAIT, initialize_params
from tests.support.stack import TOKEN, Stack

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

AUTH = {"Authorization": f"Bearer {TOKEN}"}
ACCEPT = {"Accept": "application/json, text/event-stream"}
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": initialize_params("t")}


@asynccontextmanager
async def http_session(stack: Stack) -> AsyncIterator[ClientSession]:
    async with (
        httpx.AsyncClient(headers=AUTH, timeout=WAIT) as http,
        streamable_http_client(stack.http_url, http_client=http) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        with anyio.fail_after(WAIT):
            await session.initialize()
        yield session


async def test_the_official_client_lists_and_calls_tools_over_streamable_http(stack: Stack) -> None:
    """initialize, tools/list and a streamed chat call with progress, like over WebSocket."""
    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    async with http_session(stack) as session:
        tools = await session.list_tools()
        with anyio.fail_after(WAIT):
            result = await session.call_tool(
                "chat",
                {"prompt": "over http emulate:tokens=40 emulate:tokens_per_second=40"},
                progress_callback=on_progress,
            )
            version = await session.call_tool("version_EXAI-WS", {})
    assert {"chat", "listmodels", "version"} <= {t.name for t in tools.tools}
    assert result.isError is False
    assert "over http" in result.structuredContent["content"]  # type: ignore[index]
    assert progress and progress == sorted(progress)
    assert version.isError is False


async def initialized(client: httpx.AsyncClient, url: str) -> str:
    answer = await client.post(url, json=INIT, headers={**AUTH, **ACCEPT})
    assert answer.status_code == 200
    assert answer.json()["result"]["protocolVersion"] == "2025-11-25"
    session_id = answer.headers["Mcp-Session-Id"]
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    headers = {**AUTH, **ACCEPT, "Mcp-Session-Id": session_id, "MCP-Protocol-Version": "2025-11-25"}
    assert (await client.post(url, json=note, headers=headers)).status_code == 202
    return session_id


async def test_sessions_headers_and_auth_follow_the_transport_rules(stack: Stack) -> None:
    """401 without a token, 400 without a session id or with an unknown protocol version, 404 for
    an unknown or deleted session, 403 for a foreign Origin, JSON answers for quick requests."""
    url = stack.http_url
    ping: dict[str, Any] = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
    async with httpx.AsyncClient(timeout=WAIT) as client:
        refused = await client.post(url, json=INIT, headers=ACCEPT)
        assert refused.status_code == 401 and "Bearer" in refused.headers["WWW-Authenticate"]
        session_id = await initialized(client, url)
        headers = {**AUTH, **ACCEPT, "Mcp-Session-Id": session_id}
        answer = await client.post(url, json=ping, headers=headers)
        assert answer.status_code == 200 and answer.json() == {"jsonrpc": "2.0", "id": 2, "result": {}}
        assert (await client.post(url, json=ping, headers={**AUTH, **ACCEPT})).status_code == 400
        bad_version = {**headers, "MCP-Protocol-Version": "1999-01-01"}
        assert (await client.post(url, json=ping, headers=bad_version)).status_code == 400
        foreign = {**headers, "Origin": "https://evil.example"}
        assert (await client.post(url, json=ping, headers=foreign)).status_code == 403
        assert (await client.post(url, content=b"{nope", headers=headers)).status_code == 400
        assert (await client.delete(url, headers=headers)).status_code == 204
        assert (await client.post(url, json=ping, headers=headers)).status_code == 404


async def test_a_tools_call_streams_progress_then_its_result_as_server_sent_events(stack: Stack) -> None:
    """A POSTed tools/call with a progress token answers text/event-stream: progress, then result."""
    url = stack.http_url
    async with httpx.AsyncClient(timeout=WAIT) as client:
        session_id = await initialized(client, url)
        call = {
            "jsonrpc": "2.0",
            "id": "c",
            "method": "tools/call",
            "params": {
                "name": "chat",
                "arguments": {"prompt": "sse emulate:tokens=30 emulate:tokens_per_second=30"},
                "_meta": {"progressToken": "p"},
            },
        }
        headers = {**AUTH, **ACCEPT, "Mcp-Session-Id": session_id}
        events = []
        async with client.stream("POST", url, json=call, headers=headers) as response:
            assert response.headers["Content-Type"].startswith("text/event-stream")
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    events.append(json.loads(line[6:]))
    assert events[-1]["id"] == "c" and events[-1]["result"]["isError"] is False
    assert any(e.get("method") == "notifications/progress" for e in events[:-1])


async def sse_answer(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], message: dict[str, Any]
) -> Any:
    """POST one request and return its JSON-RPC answer, whether it comes as JSON or as SSE."""
    async with client.stream("POST", url, json=message, headers=headers) as response:
        assert response.status_code == 200
        if response.headers["Content-Type"].startswith("application/json"):
            return json.loads(await response.aread())
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                event = json.loads(line[6:])
                if "method" not in event:
                    return event
    raise AssertionError("the stream ended without an answer")


async def test_tasks_work_over_http_like_over_websocket(stack: Stack) -> None:
    """A task-augmented tools/call answers with a task at once; tasks/get and tasks/result follow."""
    url = stack.http_url
    async with httpx.AsyncClient(timeout=WAIT) as client:
        session_id = await initialized(client, url)
        headers = {**AUTH, **ACCEPT, "Mcp-Session-Id": session_id}
        call = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "chat", "arguments": {"prompt": "as a task over http"}, "task": {}},
        }
        created = await sse_answer(client, url, headers, call)
        task_id = created["result"]["task"]["taskId"]
        status = await sse_answer(
            client,
            url,
            headers,
            {"jsonrpc": "2.0", "id": 2, "method": "tasks/get", "params": {"taskId": task_id}},
        )
        assert status["result"]["taskId"] == task_id
        done = await sse_answer(
            client,
            url,
            headers,
            {"jsonrpc": "2.0", "id": 3, "method": "tasks/result", "params": {"taskId": task_id}},
        )
    assert done["result"]["isError"] is False
    assert "as a task over http" in done["result"]["structuredContent"]["content"]
