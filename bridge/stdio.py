"""``exai stdio``: an MCP stdio server that forwards everything to the gateway over WebSocket.

stdin and stdout carry one JSON-RPC message per line and nothing else: the process's file
descriptor 1 is pointed at stderr before anything can print, and protocol goes out through a private
copy of the original stdout. The WebSocket reconnects with exponential backoff and full jitter; the
:class:`~bridge.relay.Relay` decides what to send again. The bridge exits when stdin closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import threading
from typing import BinaryIO

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.typing import Subprotocol

from bridge.relay import Message, Output, Relay
from contracts.errors import ConfigError
from contracts.settings import Settings
from gateway.core import codec
from workers.backoff import compute_backoff

log = logging.getLogger("exai.stdio")


def claim_stdout() -> BinaryIO:
    """Keep fd 1 for protocol only: return a private handle to it and send everything else to stderr."""
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    return protocol


class Bridge:
    def __init__(self, settings: Settings, url: str, out: BinaryIO) -> None:
        self.settings = settings
        self.url = url
        self.out = out
        self.relay = Relay(task_ttl_ms=settings.exai_result_ttl_s * 1000)
        self.ws: ClientConnection | None = None

    # --- the two ends ---------------------------------------------------------------------
    def write_client(self, message: Message) -> None:
        self.out.write(_utf8(message) + b"\n")

    async def _deliver(self, output: Output) -> None:
        for message in output.to_client:
            self.write_client(message)
        ws = self.ws
        for message in output.to_gateway:
            if ws is None:
                return
            data = _utf8(message)
            if len(data) > self.settings.exai_ws_max_frame_bytes:
                # The gateway would close the connection (1009) and the relay send it again on the
                # next one, forever: answer it here instead, as the gateway's refusal.
                for answer in self._too_large(message, len(data)).to_client:
                    self.write_client(answer)
                continue
            try:
                await ws.send(data, text=True)
            except ConnectionClosed:
                return  # the gateway loop notices and reconnects; the relay re-sends what matters

    def _too_large(self, message: Message, size: int) -> Output:
        limit = self.settings.exai_ws_max_frame_bytes
        text = f"Invalid Request: the message is {size} bytes, above EXAI_WS_MAX_FRAME_BYTES={limit}"
        if "method" not in message or "id" not in message:
            log.warning(
                "dropped a message of %d bytes for the gateway (EXAI_WS_MAX_FRAME_BYTES=%d)", size, limit
            )
            return Output()
        refusal = {"jsonrpc": "2.0", "id": message["id"], "error": {"code": -32600, "message": text}}
        return self.relay.from_gateway(refusal)

    def from_client_line(self, line: bytes) -> Output:
        # The gateway's own decoding rules, here: a message the bridge would forward under its own
        # id (a lone surrogate, an id that is no id, …) is answered at once, under the client's.
        try:
            message = codec.loads(line)
            codec.parse(message, line)
        except codec.DecodeError as exc:
            return Output(to_client=[json.loads(codec.error(exc.id, exc.code, exc.message))])
        return self.relay.from_client(message)

    async def client_loop(self, lines: asyncio.Queue[bytes | None]) -> None:
        while (line := await lines.get()) is not None:
            if line.strip():
                await self._deliver(self.from_client_line(line))
        log.info("stdin closed; the bridge stops")

    def _token(self) -> str | None:
        # Read at every attempt: a desktop client may start the bridge before `exai up` makes the file.
        try:
            return self.settings.client_token(self.url)
        except ConfigError as exc:
            log.error("%s", exc.message)
            return None

    async def gateway_loop(self) -> None:
        s = self.settings
        attempt = 0
        while True:
            token = self._token()
            headers = {"Authorization": f"Bearer {token}"} if token else None
            try:
                async with connect(
                    self.url,
                    subprotocols=[Subprotocol("mcp")],
                    additional_headers=headers,
                    # EXAI_WS_MAX_FRAME_BYTES bounds what the gateway accepts, not what it answers
                    # (a tools/list page may be larger): a refused answer would be asked again forever.
                    max_size=None,
                    ping_interval=s.exai_ws_ping_interval_s,
                    ping_timeout=s.exai_ws_ping_timeout_s,
                    open_timeout=s.exai_stdio_connect_timeout_s,
                ) as ws:
                    self.ws = ws
                    if attempt:
                        log.info("reconnected to the gateway at %s", _shown(self.url))
                    attempt = 0
                    await self._deliver(self.relay.reconnected())
                    async for raw in ws:
                        try:
                            message = json.loads(raw)
                        except ValueError:
                            log.warning("ignored a malformed frame from the gateway")
                            continue
                        if isinstance(message, dict):
                            await self._deliver(self.relay.from_gateway(message))
            except InvalidStatus as exc:
                if exc.response.status_code == 401:
                    log.error(
                        "the gateway refused the token (HTTP 401); set EXAI_WS_TOKEN, or start the stack "
                        "with `exai up`, which writes the token file %s",
                        s.token_file(),
                    )
                else:
                    log.warning("the gateway answered HTTP %d", exc.response.status_code)
            except (OSError, TimeoutError, WebSocketException) as exc:
                log.warning("gateway connection failed or lost: %s", exc or type(exc).__name__)
            self.ws = None
            self.relay.disconnected()
            delay = compute_backoff(
                attempt, base=s.exai_stdio_reconnect_base_s, maximum=s.exai_stdio_reconnect_max_s
            )
            attempt += 1
            log.info("reconnecting to the gateway in %.1f s", delay)
            await asyncio.sleep(delay)

    async def heartbeat_loop(self) -> None:
        # Twice the gateway's heartbeat interval: a gateway that is there keeps the bridge quiet.
        quiet = 2 * self.settings.exai_progress_interval_s
        while True:
            await asyncio.sleep(quiet / 4)
            for message in self.relay.heartbeats(quiet):
                self.write_client(message)

    async def run(self, lines: asyncio.Queue[bytes | None]) -> None:
        helpers = [
            asyncio.create_task(self.gateway_loop(), name="exai-stdio-gateway"),
            asyncio.create_task(self.heartbeat_loop(), name="exai-stdio-heartbeat"),
        ]
        try:
            await self.client_loop(lines)
        finally:
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)


def _utf8(message: Message) -> bytes:
    """One message as UTF-8 JSON. A lone surrogate (which UTF-8 cannot carry) goes as a \\ud800
    escape instead of raising: a client's answer to the gateway is forwarded unchecked."""
    text = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode()
    except UnicodeEncodeError:
        return json.dumps(message, separators=(",", ":")).encode()


def _shown(url: str) -> str:
    return url.split("?", 1)[0]  # a token in the query string must not reach the logs


def _read_stdin(loop: asyncio.AbstractEventLoop, lines: asyncio.Queue[bytes | None]) -> None:
    # A thread, because stdin may be a pipe, a file or a terminal, and asyncio cannot read all three.
    for line in sys.stdin.buffer:
        loop.call_soon_threadsafe(lines.put_nowait, line)
    loop.call_soon_threadsafe(lines.put_nowait, None)


def run_stdio(settings: Settings, url: str, out: BinaryIO) -> int:
    async def main() -> None:
        lines: asyncio.Queue[bytes | None] = asyncio.Queue()
        threading.Thread(
            target=_read_stdin, args=(asyncio.get_running_loop(), lines), name="exai-stdin", daemon=True
        ).start()
        await Bridge(settings, url, out).run(lines)

    log.info("MCP stdio bridge to %s", _shown(url))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    return 0
