"""The whole path with real processes: MCP client → gateway → Celery/Redis → worker → emulator."""

from __future__ import annotations

import json
import time

import anyio
import pytest
import redis
from websockets.exceptions import ConnectionClosed, InvalidStatus

from contracts.job import Outcome
from contracts.names import result_key
from tests.support.clients import mcp_session, raw_client
from tests.support.stack import Stack

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


async def test_initialize_and_list_tools_with_the_official_client(stack: Stack) -> None:
    """The official client initializes on 2025-11-25 and sees the tools with their schemas."""
    async with mcp_session(stack.authed_url) as session:
        tools = await session.list_tools()
    names = {tool.name for tool in tools.tools}
    assert {"chat", "listmodels", "version"} <= names
    chat = next(t for t in tools.tools if t.name == "chat")
    assert chat.inputSchema["required"] == ["prompt"]
    assert chat.outputSchema is not None


async def test_chat_round_trip_carries_the_prompt_to_the_provider_and_back(stack: Stack) -> None:
    """The emulator's reply echoes the prompt, so the answer proves the whole path ran."""
    async with mcp_session(stack.authed_url) as session:
        result = await session.call_tool("chat", {"prompt": "what colour is the sky", "model": "glm-4.6"})
    assert result.isError is False
    assert result.structuredContent is not None
    assert "[emulated glm glm-4.6] what colour is the sky" in result.structuredContent["content"]
    metadata = result.structuredContent["metadata"]
    assert (metadata["provider"], metadata["model"]) == ("glm", "glm-4.6")
    assert metadata["usage"]["completion_tokens"] > 0
    assert json.loads(result.content[0].text) == result.structuredContent  # type: ignore[union-attr]


async def test_auto_model_and_old_suffixed_tool_names_work(stack: Stack) -> None:
    """`auto` picks the first configured provider; `chat_EXAI-WS` is `chat`."""
    async with mcp_session(stack.authed_url) as session:
        result = await session.call_tool("chat_EXAI-WS", {"prompt": "hello", "model": "auto"})
    assert result.isError is False
    assert result.structuredContent["metadata"]["provider"] == "kimi"  # type: ignore[index]


async def test_listmodels_and_version_run_on_the_worker(stack: Stack) -> None:
    """The tools without a model call answer through the same queue."""
    async with mcp_session(stack.authed_url) as session:
        models = await session.call_tool("listmodels", {})
        version = await session.call_tool("version", {})
    assert any(m["name"] == "kimi-k2.6" for m in models.structuredContent["models"])  # type: ignore[index]
    assert version.structuredContent["providers"] == ["kimi", "glm"]  # type: ignore[index]


async def test_fifty_concurrent_calls_on_one_connection_each_get_their_own_answer(stack: Stack) -> None:
    """50 calls in flight at once on one session; every answer matches its own prompt."""
    answers: dict[int, str] = {}
    async with mcp_session(stack.authed_url) as session:

        async def one(i: int) -> None:
            result = await session.call_tool("chat", {"prompt": f"question number {i}"})
            assert result.isError is False
            answers[i] = result.structuredContent["content"]  # type: ignore[index]

        with anyio.fail_after(60):
            async with anyio.create_task_group() as group:
                for i in range(50):
                    group.start_soon(one, i)
    assert len(answers) == 50
    for i, text in answers.items():
        assert text.endswith(f"question number {i}")


async def test_progress_notifications_arrive_during_a_slow_streamed_call(stack: Stack) -> None:
    """A call streamed over ~2 s reports progress, growing, with a message."""
    seen: list[tuple[float, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, message))

    async with mcp_session(stack.authed_url) as session:
        result = await session.call_tool(
            "chat",
            {"prompt": "slow please emulate:tokens=40 emulate:tokens_per_second=20"},
            progress_callback=on_progress,
        )
    assert result.isError is False
    assert len(seen) >= 5
    values = [p for p, _ in seen]
    assert values == sorted(values) and len(set(values)) == len(values)
    assert any(m and "chunks streamed" in m for _, m in seen)


async def test_heartbeats_keep_a_quiet_call_alive(stack: Stack) -> None:
    """A provider silent for 3.5 s still produces progress every EXAI_PROGRESS_INTERVAL_S (1 s here)."""
    async with raw_client(stack.authed_url) as client:
        await client.initialize()
        await client.send(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {
                    "name": "chat",
                    "arguments": {"prompt": "think emulate:latency_ms=3500"},
                    "_meta": {"progressToken": "hb"},
                },
            }
        )
        answer = await client.response(1, timeout=30)
        heartbeats = [
            m
            for m in client.backlog
            if m.get("method") == "notifications/progress" and "elapsed" in (m["params"].get("message") or "")
        ]
    assert answer["result"]["isError"] is False
    assert heartbeats, "no heartbeat during 3.5 s of provider silence"
    assert all(m["params"]["progressToken"] == "hb" for m in heartbeats)


async def test_cancelling_a_running_call_stops_it_and_sends_no_answer(stack: Stack) -> None:
    """notifications/cancelled stops a streaming call within about a second; no response follows."""
    r = redis.Redis.from_url(stack.env["REDIS_URL"])
    async with raw_client(stack.authed_url) as client:
        await client.initialize()
        await client.send(
            {
                "jsonrpc": "2.0",
                "id": 7,
                "method": "tools/call",
                "params": {
                    "name": "chat",
                    "arguments": {"prompt": "long emulate:tokens=600 emulate:tokens_per_second=20"},
                    "_meta": {"progressToken": 7},
                },
            }
        )
        with anyio.fail_after(30):
            while True:  # wait until it streams
                message = await client.receive()
                if "chunks streamed" in (message.get("params", {}).get("message") or ""):
                    break
        cancelled_at = time.monotonic()
        await client.send(
            {
                "jsonrpc": "2.0",
                "method": "notifications/cancelled",
                "params": {"requestId": 7, "reason": "user pressed stop"},
            }
        )
        call_id = None
        with anyio.fail_after(10):
            while call_id is None:
                for key in r.scan_iter("exai:result:*"):
                    outcome = Outcome.model_validate_json(r.get(key) or b"{}")
                    if outcome.error_code == "CANCELLED":
                        call_id = outcome.call_id
                if call_id is None:
                    await anyio.sleep(0.05)
        stopped_after = time.monotonic() - cancelled_at
        # the session is still usable and there is no answer for id 7
        pong = await client.request(8, "ping")
        assert pong["result"] == {}
        assert all(m.get("id") != 7 for m in client.backlog)
    assert stopped_after < 2.0
    # 600 tokens at 20/s would take 30 s; the worker stopped long before
    assert r.exists(result_key(call_id))


async def test_rate_limit_burst_is_retried_to_success(stack: Stack) -> None:
    """Three 429s in a row, then success: the caller sees only the answer."""
    stack.fault("rate_limit", count=3, provider="kimi")
    async with mcp_session(stack.authed_url) as session:
        result = await session.call_tool("chat", {"prompt": "retry me", "model": "kimi-k2.6"})
    assert result.isError is False
    assert result.structuredContent["metadata"]["attempts"] == 4  # type: ignore[index]
    assert stack.emulator_stats()["calls"]["kimi"] == 4


async def test_quota_error_is_not_retried_and_says_what_to_do(stack: Stack) -> None:
    """An exhausted quota fails at once with an actionable message."""
    stack.fault("quota", count=1, provider="glm")
    async with mcp_session(stack.authed_url) as session:
        result = await session.call_tool("chat", {"prompt": "no money", "model": "glm-4.6"})
    assert result.isError is True
    assert "quota" in result.content[0].text.lower()  # type: ignore[union-attr]
    assert stack.emulator_stats()["calls"]["glm"] == 1


async def test_unknown_model_is_an_error_result_listing_choices(stack: Stack) -> None:
    """An explicit model must be one the server knows."""
    async with mcp_session(stack.authed_url) as session:
        result = await session.call_tool("chat", {"prompt": "x", "model": "gpt-17"})
    assert result.isError is True
    assert "gpt-17" in result.content[0].text and "kimi-k2.6" in result.content[0].text  # type: ignore[union-attr]


async def test_a_wrong_or_missing_token_is_refused_at_the_handshake(stack: Stack) -> None:
    """401 before any frame, for a bad query token and for a missing one; a Bearer header works."""
    for url in (f"{stack.gateway_url}?token=wrong-token-wrong-token", stack.gateway_url):
        with pytest.raises(InvalidStatus) as caught:
            async with raw_client(url):
                pass
        assert caught.value.response.status_code == 401
    headers = {"Authorization": f"Bearer {stack.env['EXAI_WS_TOKEN']}"}
    async with raw_client(stack.gateway_url, additional_headers=headers) as client:
        assert (await client.initialize())["result"]["protocolVersion"] == "2025-11-25"
        assert client.ws.subprotocol == "mcp"


async def test_malformed_frames_are_answered_without_harm_to_calls_or_other_clients(stack: Stack) -> None:
    """Garbage frames get JSON-RPC errors while a call on the same connection and another client go on."""
    async with raw_client(stack.authed_url) as bad, mcp_session(stack.authed_url) as good:
        await bad.initialize()
        await bad.send(
            {
                "jsonrpc": "2.0",
                "id": "slow",
                "method": "tools/call",
                "params": {"name": "chat", "arguments": {"prompt": "survive emulate:latency_ms=500"}},
            }
        )
        frames: list[str | bytes] = [
            "{nope",
            "[]",
            '{"jsonrpc":"2.0","id":null,"method":"ping"}',
            b"\x00binary",
            '{"jsonrpc":"2.0","id":3,"method":"nope/nope"}',
            '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"zzz"}}',
        ]
        for frame in frames:
            await bad.send(frame)
        codes = [(await bad.receive())["error"]["code"] for _ in frames]
        assert codes == [-32700, -32600, -32600, -32700, -32601, -32602]
        answer = await bad.response("slow")
        assert answer["result"]["isError"] is False
        result = await good.call_tool("chat", {"prompt": "still fine"})
        assert result.isError is False


async def test_an_oversized_frame_closes_only_that_connection(stack: Stack) -> None:
    """A frame above EXAI_WS_MAX_FRAME_BYTES closes its connection with 1009; others carry on."""
    async with mcp_session(stack.authed_url) as good:
        async with raw_client(stack.authed_url, max_size=None) as big:
            await big.initialize()
            await big.send("x" * (4 * 1024 * 1024 + 1))
            with pytest.raises(ConnectionClosed) as caught:
                await big.receive()
            assert caught.value.rcvd is not None and caught.value.rcvd.code == 1009
        assert (await good.call_tool("version", {})).isError is False


async def test_answer_text_streams_in_progress_notifications_in_order(stack: Stack) -> None:
    """Progress notifications carry the answer as it streams; joined, they are a prefix of the answer."""
    async with raw_client(stack.authed_url) as client:
        await client.initialize()
        await client.send(
            {
                "jsonrpc": "2.0",
                "id": "s",
                "method": "tools/call",
                "params": {
                    "name": "chat",
                    "arguments": {"prompt": "tell me emulate:tokens=30 emulate:tokens_per_second=60"},
                    "_meta": {"progressToken": "s"},
                },
            }
        )
        answer = await client.response("s")
        pieces = [
            m["params"]["_meta"]["io.exai/text"]
            for m in client.backlog
            if m.get("method") == "notifications/progress" and "_meta" in m["params"]
        ]
    content = answer["result"]["structuredContent"]["content"]
    streamed = "".join(pieces)
    assert len(pieces) >= 3
    assert streamed and content.startswith(streamed)


def test_exai_call_prints_the_streamed_answer_exactly_once(stack: Stack) -> None:
    """`exai call` writes streamed text as it comes and the rest at the end: the answer, once."""
    import subprocess
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli.main",
            "call",
            "chat",
            "prompt=count slowly emulate:tokens=25 emulate:tokens_per_second=50",
            "--url",
            stack.authed_url,
            "--timeout",
            "60",
        ],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("[emulated kimi kimi-k2.6] count slowly") == 1
    assert len(done.stdout.split()) >= 25


async def test_compression_is_negotiated_with_a_small_window(stack: Stack) -> None:
    """permessage-deflate at EXAI_WS_DEFLATE_WINDOW_BITS (10): an idle connection stays small."""
    async with raw_client(stack.authed_url) as client:
        offered = client.ws.response.headers.get("Sec-WebSocket-Extensions", "")
        assert "permessage-deflate" in offered and "server_max_window_bits=10" in offered
        assert "client_max_window_bits=10" in offered
        answer = await client.initialize()
        assert answer["result"]["serverInfo"]["name"]
