"""The servers compared: how each is started, called, and which processes are its own.

Every peer serves the same ``chat`` tool against the same emulator. The peers run from their own
environments under ``.venv-bench/`` (see ``bench.peers.venvs``); this project runs as ``make bench``
starts it (``bench.__main__.stack``: Redis, emulator, one gateway, one worker).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.peers.clients import HttpClient, McpClient, StdioClient, WsClient, clean_env
from bench.peers.venvs import VENVS, peer_python
from cli.local_redis import LocalRedis, free_port
from tests.support.stack import TOKEN, Stack

HERE = Path(__file__).resolve().parent
FASTMCP_SERVER = HERE / "fastmcp_server.py"
PAL_MODELS = HERE / "pal_models.json"
PAL_MODEL = "kimi-k2.6"
START_TIMEOUT_S = 60.0


@dataclass
class Running:
    """A started peer: its client, the process ids that are the server, and how to stop it."""

    client: McpClient
    pids: Callable[[], list[int]]
    arguments: Callable[[str], dict[str, Any]] = lambda prompt: {"prompt": prompt}
    stops: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.client.close()
        for stop in reversed(self.stops):
            with contextlib.suppress(Exception):
                await stop()


@dataclass(frozen=True)
class Peer:
    name: str  # the column of the results table
    needs: str  # what it needed to serve the benchmark, for the notes
    start: Callable[[Stack, Path], Awaitable[Running]]


async def _wait_for_port(port: int, process: asyncio.subprocess.Process, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.returncode is not None:
            raise RuntimeError(f"exited ({process.returncode}): {log.read_text()[-500:]}")
        with socket.socket() as probe:
            probe.settimeout(0.5)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"not listening on {port} within {START_TIMEOUT_S:.0f} s: {log.read_text()[-500:]}")


async def _http_server(argv: list[str], port: int, log: Path, cwd: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as errors:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=errors,
            stderr=errors,
            env=clean_env(),
            cwd=cwd,
            start_new_session=True,
        )
    await _wait_for_port(port, process, log)
    return process


def _terminate(process: asyncio.subprocess.Process) -> Callable[[], Awaitable[None]]:
    async def stop() -> None:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()

    return stop


def _project_pids(stack: Stack) -> Callable[[], list[int]]:
    return lambda: [p.pid for p in [stack.gateway, *stack.workers] if p is not None]


async def _project_ws(stack: Stack, work: Path) -> Running:
    return Running(await WsClient(stack.authed_url).open(), _project_pids(stack))


async def _project_http(stack: Stack, work: Path) -> Running:
    client = await HttpClient(stack.http_url, dialect="session", token=TOKEN).open()
    return Running(client, _project_pids(stack))


async def _fastmcp_stdio(stack: Stack, work: Path) -> Running:
    argv = [str(peer_python("fastmcp")), str(FASTMCP_SERVER), "--emulator", stack.emulator_url]
    client = await StdioClient.start(argv, env=clean_env(), cwd=work, log=work / "fastmcp-stdio.log")
    return Running(client, lambda: [client.pid])


async def _fastmcp_http(stack: Stack, work: Path, *, tasks: bool = False) -> Running:
    port = free_port()
    argv = [str(peer_python("fastmcp")), str(FASTMCP_SERVER), "--emulator", stack.emulator_url]
    argv += ["--transport", "http", "--port", str(port)]
    stops: list[Callable[[], Awaitable[None]]] = []
    if tasks:
        redis_server = LocalRedis(work / "docket-redis", persist=False).start()
        stops.append(lambda: asyncio.to_thread(redis_server.stop))
        argv += ["--tasks", redis_server.url]
    name = "fastmcp-docket" if tasks else "fastmcp-http"
    process = await _http_server(argv, port, work / f"{name}.log", work)
    stops.append(_terminate(process))
    client = await HttpClient(f"http://127.0.0.1:{port}/mcp", dialect="modern", tasks=tasks).open()
    return Running(client, lambda: [process.pid], stops=stops)


async def _fastmcp_docket(stack: Stack, work: Path) -> Running:
    return await _fastmcp_http(stack, work, tasks=True)


async def _pal(stack: Stack, work: Path) -> Running:
    (work / "pal-files").mkdir(exist_ok=True)
    env = clean_env(
        CUSTOM_API_URL=f"{stack.emulator_url}/v1",
        CUSTOM_API_KEY="bench-not-a-secret",
        CUSTOM_MODELS_CONFIG_PATH=str(PAL_MODELS),
        DEFAULT_MODEL=PAL_MODEL,
        PAL_LOG_DIR=str(work / "pal-logs"),
        PAL_STATE_DIR=str(work / "pal-state"),
        LOG_LEVEL="WARNING",
    )
    argv = [str(VENVS / "pal" / "bin" / "pal-mcp-server")]
    client = await StdioClient.start(argv, env=env, cwd=work / "pal-files", log=work / "pal.log")
    files = str(work / "pal-files")

    def arguments(prompt: str) -> dict[str, Any]:
        return {"prompt": prompt, "model": PAL_MODEL, "working_directory_absolute_path": files}

    return Running(client, lambda: [client.pid], arguments)


PEERS = (
    Peer("exai-mcp WS", "`make bench`'s stack: Redis, one gateway, one worker (gevent)", _project_ws),
    Peer("exai-mcp HTTP", "the same stack, over its Streamable HTTP front", _project_http),
    Peer(
        "FastMCP stdio",
        "`fastmcp` 4 from PyPI; `bench/peers/fastmcp_server.py` (a `chat` tool calling the emulator "
        "with the worker's request body, one kept-alive httpx client)",
        _fastmcp_stdio,
    ),
    Peer("FastMCP HTTP", "the same server with `transport=\"http\"` (uvicorn), one process", _fastmcp_http),
    Peer(
        "FastMCP + Docket",
        "`fastmcp[tasks]` (fastmcp-tasks + pydocket): `chat` declared `task=True`, a private Redis, "
        "the Docket worker in the server process with 2,500 slots, and redis-py's pool raised from "
        "its default 100 connections (`?max_connections=4000` on the Redis URL), without which 100 "
        "concurrent tasks fail with `Too many connections`; the client declares the tasks extension "
        "and polls `tasks/get` as FastMCP's client does",
        _fastmcp_docket,
    ),
    Peer(
        "pal-mcp-server",
        "`pal-mcp-server` 11.8 from PyPI, stdio; its custom OpenAI-compatible provider pointed at "
        "the emulator (`CUSTOM_API_URL`, `CUSTOM_API_KEY`, `DEFAULT_MODEL`) and a custom-endpoint "
        "model file declaring the model (`CUSTOM_MODELS_CONFIG_PATH` = `bench/peers/pal_models.json`); "
        "its `chat` needs `working_directory_absolute_path`; logs and state in a temporary folder",
        _pal,
    ),
)
