"""`exai stdio` as a real process between the official stdio client and a real gateway."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
import redis
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from bridge.relay import LOST_CALL
from cli.local_redis import free_port
from contracts.job import Outcome
from tests.support.clients import WAIT, initialize_params
from tests.support.stack import Stack

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

REPO = Path(__file__).resolve().parents[2]
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": initialize_params("t")}


def bridge_env(stack: Stack, url: str | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in stack.env.items() if k != "EXAI_WS_URL"}
    env.update({"EXAI_WS_URL": url or stack.gateway_url, "PYTHONPATH": str(REPO)})
    env["EXAI_STDIO_RECONNECT_BASE_S"] = "0.1"
    env["EXAI_STDIO_RECONNECT_MAX_S"] = "0.5"
    env.update(extra)
    return env


@asynccontextmanager
async def bridged_session(stack: Stack, errlog: Path, url: str | None = None) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "cli.main", "stdio"], env=bridge_env(stack, url), cwd=str(REPO)
    )
    with errlog.open("a") as err:
        async with stdio_client(params, errlog=err) as (read, write), ClientSession(read, write) as session:
            with anyio.fail_after(WAIT):
                await session.initialize()
            yield session


async def test_the_official_stdio_client_lists_and_calls_tools_through_the_bridge(
    stack: Stack, tmp_path: Path
) -> None:
    """initialize, tools/list and a chat call with progress all cross stdio → WebSocket → Celery."""
    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    async with bridged_session(stack, tmp_path / "bridge.log") as session:
        tools = await session.list_tools()
        await session.set_logging_level("debug")
        with anyio.fail_after(WAIT):
            result = await session.call_tool(
                "chat",
                {"prompt": "through the bridge emulate:tokens=40 emulate:tokens_per_second=40"},
                progress_callback=on_progress,
            )
    assert {"chat", "listmodels", "version"} <= {t.name for t in tools.tools}
    assert result.isError is False
    assert "through the bridge" in result.structuredContent["content"]  # type: ignore[index]
    assert progress, "progress notifications were forwarded"
    assert progress == sorted(progress)


async def test_the_bridge_answers_on_stdout_with_protocol_only_and_exits_when_stdin_closes(
    stack: Stack, tmp_path: Path
) -> None:
    """Every stdout line is a JSON-RPC message (even after bad input); EOF on stdin ends the process."""
    lines = [json.dumps(INIT), "this is not json", json.dumps({"jsonrpc": "2.0", "id": 2, "method": "ping"})]
    with (tmp_path / "stderr.log").open("w") as err:
        process = subprocess.run(
            [sys.executable, "-m", "cli.main", "stdio"],
            input="\n".join(lines) + "\n",
            capture_output=False,
            stdout=subprocess.PIPE,
            stderr=err,
            env={**bridge_env(stack), "LOG_LEVEL": "DEBUG"},
            cwd=REPO,
            text=True,
            timeout=WAIT,
            check=False,
        )
    assert process.returncode == 0
    out = [json.loads(line) for line in process.stdout.splitlines()]
    assert all(m["jsonrpc"] == "2.0" for m in out)
    assert any(m.get("error", {}).get("code") == -32700 for m in out)
    assert (tmp_path / "stderr.log").read_text().strip(), "logs went to stderr"


class BridgeProcess:
    """`exai stdio` on raw pipes: one JSON-RPC message per line each way."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.seen: list[dict[str, Any]] = []

    async def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        await self.process.stdin.drain()

    async def receive(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        with anyio.fail_after(WAIT):
            line = await self.process.stdout.readline()
        message: dict[str, Any] = json.loads(line)
        self.seen.append(message)
        return message

    async def answer(self, msg_id: Any) -> dict[str, Any]:
        while True:
            message = await self.receive()
            if message.get("id") == msg_id and "method" not in message:
                return message


async def test_cancelling_through_the_bridge_stops_the_call_and_sends_no_answer(
    stack: Stack, tmp_path: Path
) -> None:
    """notifications/cancelled from the client reaches the gateway (as tasks/cancel when the bridge
    runs the call as a task): the worker stops, no answer comes for that id, the session goes on."""
    r = redis.Redis.from_url(stack.env["REDIS_URL"])
    with (tmp_path / "stderr.log").open("w") as err:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cli.main",
            "stdio",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=err,
            env=bridge_env(stack),
            cwd=REPO,
        )
        bridge = BridgeProcess(process)
        try:
            await bridge.send(INIT)
            await bridge.answer(1)
            await bridge.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
            prompt = "cancel me emulate:tokens=600 emulate:tokens_per_second=20"
            params = {"name": "chat", "arguments": {"prompt": prompt}, "_meta": {"progressToken": "p7"}}
            await bridge.send({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": params})
            while "chunks streamed" not in ((await bridge.receive()).get("params", {}).get("message") or ""):
                pass
            cancel = {"requestId": 7, "reason": "user pressed stop"}
            await bridge.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": cancel})
            with anyio.fail_after(WAIT):
                while not any(
                    Outcome.model_validate_json(r.get(key) or b"{}").error_code == "CANCELLED"
                    for key in r.scan_iter("exai:result:*")
                ):
                    await anyio.sleep(0.05)  # polling Redis for the outcome, bounded above
            await bridge.send({"jsonrpc": "2.0", "id": 8, "method": "ping"})
            assert (await bridge.answer(8))["result"] == {}
            assert all(m.get("id") != 7 for m in bridge.seen)
        finally:
            assert process.stdin is not None
            process.stdin.close()
            with anyio.fail_after(WAIT):
                assert await process.wait() == 0


async def test_a_restarted_gateway_is_reached_again_and_calls_in_flight_are_resolved(
    stack: Stack, tmp_path: Path
) -> None:
    """After the gateway restarts, the same client session goes on; a call that was running gets an
    answer: its real result when the gateway offers tasks, else an isError result saying so."""
    old_url = stack.gateway_url
    port = old_url.rsplit(":", 1)[1].strip("/")
    async with bridged_session(stack, tmp_path / "bridge.log", url=stack.authed_url) as session:
        capabilities = session.get_server_capabilities()
        tasks_offered = capabilities is not None and getattr(capabilities, "tasks", None) is not None
        answer: dict[str, Any] = {}

        async def slow_call() -> None:
            result = await session.call_tool("chat", {"prompt": "survive emulate:latency_ms=4000"})
            answer["result"] = result

        gateway = stack.gateway
        assert gateway is not None
        seen = gateway.line_count
        with anyio.fail_after(2 * WAIT):
            async with anyio.create_task_group() as group:
                group.start_soon(slow_call)
                await anyio.to_thread.run_sync(lambda: gateway.wait_for(r"tools/call chat", start=seen))
                await anyio.to_thread.run_sync(gateway.stop)
                await anyio.to_thread.run_sync(lambda: stack.start_gateway(EXAI_WS_PORT=port))
        with anyio.fail_after(WAIT):
            version = await session.call_tool("version", {})
    assert version.isError is False
    result = answer["result"]
    if tasks_offered:
        assert result.isError is False
        assert "survive" in result.structuredContent["content"]
    else:
        assert result.isError is True
        assert result.content[0].text == LOST_CALL


async def test_a_bridge_with_no_token_in_its_env_uses_the_token_file_made_after_it_started(
    stack: Stack, tmp_path: Path
) -> None:
    """A desktop client's config needs no token: the bridge reads the local token file at each attempt,
    so a bridge launched before `exai up` made the file connects once the stack is up."""
    token_file = tmp_path / "config" / "ws-token"
    port = str(free_port())
    env = {k: v for k, v in stack.env.items() if k != "EXAI_WS_TOKEN"}
    gateway_env = {**env, "EXAI_WS_TOKEN_FILE": str(token_file), "EXAI_WS_PORT": port}
    # EXAI_WS_TOKEN="" is unset for the settings (empty values are ignored).
    no_token = {"EXAI_WS_TOKEN": "", "EXAI_WS_TOKEN_FILE": str(token_file)}
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "cli.main", "stdio"],
        env=bridge_env(stack, f"ws://127.0.0.1:{port}/", **no_token),
        cwd=str(REPO),
    )
    gateway = None
    try:
        with (tmp_path / "bridge.log").open("a") as err:
            async with stdio_client(params, errlog=err) as (rx, tx), ClientSession(rx, tx) as bridge:
                assert not token_file.exists()
                gateway = await anyio.to_thread.run_sync(
                    lambda: stack.spawn_gateway("file-gateway", gateway_env)
                )
                with anyio.fail_after(WAIT):
                    await bridge.initialize()
                    version = await bridge.call_tool("version", {})
        assert version.isError is False
        assert "auth required" in gateway.text()
    finally:
        if gateway is not None:
            gateway.stop()
