"""One lean MCP client for every peer: a ``call(prompt)`` over stdio, Streamable HTTP or WebSocket.

Each keeps one reader and one future per request id, so any number of calls can be in flight, as
in ``bench/client.py``. A call that does not end with a non-error result raises ``CallFailed``.

* stdio: newline-delimited JSON-RPC on the pipes of a server process the client starts (as an MCP
  host does); 2025-11-25 ``initialize`` handshake.
* HTTP, ``session`` dialect: 2025-11-25 ``initialize``, then every POST carries the
  ``Mcp-Session-Id`` (this project's gateway). Answers are JSON or an SSE stream; both are read.
* HTTP, ``modern`` dialect: the 2026-07-28 revision FastMCP 4's own client speaks: no handshake,
  each request carries protocol version and client capabilities in ``_meta`` (FastMCP).
  ``tasks=True`` declares the tasks extension (SEP-2663), so the server runs the call as a
  durable task; the client then polls ``tasks/get`` as FastMCP's client does (20 ms, doubling,
  capped at the server's ``pollIntervalMs``).
* WebSocket: ``bench.client.LeanClient`` over a few connections (this project).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from collections.abc import Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, Protocol

import aiohttp

from bench.client import lean_client
from tests.support.clients import initialize_params

PROTOCOL = "2025-11-25"
MODERN = "2026-07-28"
TASKS_EXTENSION = "io.modelcontextprotocol/tasks"
POLL_FIRST_S = 0.02  # FastMCP's client: MIN_POLL_INTERVAL, doubled each round
REQUEST_TIMEOUT_S = 300.0
STREAM_LIMIT = 2**24  # bytes of one stdio line (pal answers with long envelopes)


class CallFailed(RuntimeError):
    """Raised when a call ends with an error, an isError result, or no answer."""


class McpClient(Protocol):
    async def call(self, arguments: dict[str, Any]) -> None: ...

    async def close(self) -> None: ...


def _result(answer: dict[str, Any]) -> dict[str, Any]:
    if "error" in answer:
        raise CallFailed(f"error {answer['error']}")
    result: dict[str, Any] = answer.get("result") or {}
    if result.get("isError"):
        text = " ".join(str(c.get("text", "")) for c in result.get("content", []))[:300]
        raise CallFailed(f"isError: {text}")
    return result


class StdioClient:
    """A server process spoken to over its standard input and output."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(
        cls, argv: Sequence[str], *, env: dict[str, str], cwd: Path, log: Path
    ) -> StdioClient:
        with log.open("ab") as errors:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=errors,
                env=env,
                cwd=cwd,
                limit=STREAM_LIMIT,
                start_new_session=True,
            )
        client = cls(process)
        await client.request("initialize", initialize_params("bench-peers"))
        await client._send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return client

    @property
    def pid(self) -> int:
        return self.process.pid

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            try:
                message = json.loads(line)
            except ValueError:
                continue  # not protocol: a server that prints to stdout
            future = self._waiting.pop(message.get("id"), None) if "method" not in message else None
            if future is not None and not future.done():
                future.set_result(message)
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(CallFailed(f"the server exited ({self.process.returncode})"))

    async def _send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        await self.process.stdin.drain()

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        msg_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[msg_id] = future
        await self._send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        return await asyncio.wait_for(future, REQUEST_TIMEOUT_S)

    async def call(self, arguments: dict[str, Any]) -> None:
        _result(await self.request("tools/call", {"name": "chat", "arguments": arguments}))

    async def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            self.process.terminate()
            await self.process.wait()
        self._reader.cancel()


class HttpClient:
    """MCP Streamable HTTP, in the ``session`` or ``modern`` dialect (see the module)."""

    def __init__(self, url: str, *, dialect: str, token: str | None = None, tasks: bool = False) -> None:
        self.url = url
        self.dialect = dialect
        self.tasks = tasks
        self._ids = itertools.count(1)
        self._headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, force_close=False),
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
        )

    async def open(self) -> HttpClient:
        if self.dialect == "session":
            answer, headers = await self._post("initialize", initialize_params("bench-peers"))
            _result(answer)
            self._headers["Mcp-Session-Id"] = headers["Mcp-Session-Id"]
            self._headers["MCP-Protocol-Version"] = PROTOCOL
            note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
            async with self._http.post(self.url, json=note, headers=self._headers) as response:
                await response.read()
        else:
            self._headers["MCP-Protocol-Version"] = MODERN
        return self

    def _meta(self) -> dict[str, Any]:
        capabilities: dict[str, Any] = {"extensions": {TASKS_EXTENSION: {}}} if self.tasks else {}
        return {
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientInfo": {"name": "bench-peers", "version": "1"},
            "io.modelcontextprotocol/clientCapabilities": capabilities,
        }

    async def _post(
        self, method: str, params: dict[str, Any], *, name: str | None = None
    ) -> tuple[dict[str, Any], Any]:
        msg_id = next(self._ids)
        headers = dict(self._headers)
        if self.dialect == "modern":
            params = {**params, "_meta": self._meta()}
            headers["Mcp-Method"] = method
            if name is not None:
                headers["Mcp-Name"] = name
        body = {"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}
        async with self._http.post(self.url, json=body, headers=headers) as response:
            if response.status >= 400:
                raise CallFailed(f"HTTP {response.status}: {(await response.text())[:200]}")
            if response.content_type == "text/event-stream":
                return await _answer_in_stream(response, msg_id), response.headers
            answer: dict[str, Any] = await response.json(content_type=None)
            return answer, response.headers

    async def call(self, arguments: dict[str, Any]) -> None:
        answer, _ = await self._post("tools/call", {"name": "chat", "arguments": arguments}, name="chat")
        result = _result(answer)
        if result.get("resultType") != "task":
            return
        task_id, delay = result["taskId"], POLL_FIRST_S
        ceiling = max(POLL_FIRST_S, (result.get("pollIntervalMs") or 5000) / 1000)
        while True:
            answer, _ = await self._post("tasks/get", {"taskId": task_id}, name=task_id)
            current = _result(answer)
            status = current.get("status")
            if status == "completed":
                _result({"result": current.get("result") or {}})
                return
            if status in ("failed", "cancelled"):
                raise CallFailed(f"task {status}: {json.dumps(current)[:300]}")
            await asyncio.sleep(delay)
            delay = min(delay * 2, ceiling)

    async def close(self) -> None:
        await self._http.close()


async def _answer_in_stream(response: aiohttp.ClientResponse, msg_id: int) -> dict[str, Any]:
    data: list[str] = []
    async for raw in response.content:
        line = raw.decode().rstrip("\r\n")
        if line.startswith("data:"):
            data.append(line[5:].lstrip())
        elif not line and data:
            message = json.loads("\n".join(data))
            data = []
            if message.get("id") == msg_id and "method" not in message:
                answer: dict[str, Any] = message
                return answer
    raise CallFailed("the event stream ended without the answer")


class WsClient:
    """This project's WebSocket front over ``connections`` sessions, calls spread round robin."""

    def __init__(self, url: str, connections: int = 10) -> None:
        self.url = url
        self.connections = connections
        self._stack = AsyncExitStack()
        self._clients: list[Any] = []
        self._next = itertools.count()

    async def open(self) -> WsClient:
        for _ in range(self.connections):
            self._clients.append(await self._stack.enter_async_context(lean_client(self.url)))
        return self

    async def call(self, arguments: dict[str, Any]) -> None:
        client = self._clients[next(self._next) % len(self._clients)]
        answer = await client.request("tools/call", {"name": "chat", "arguments": arguments})
        _result(answer)

    async def close(self) -> None:
        await self._stack.aclose()


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a peer's process: no project or provider settings leak into it."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER")
    return {**{k: v for k, v in os.environ.items() if k in keep}, **extra}
