"""One gateway process: Redis, the call broker's three parts, the protocol core and its two fronts.

Wiring only: the Redis pools (asyncio for the event loop, a small blocking one for the enqueue
threads), the in-flight registry shared by the core and the broker, the core assembled over the
Redis-backed ports, the WebSocket front (and the old daemon protocol on it) and the Streamable HTTP
front, started and stopped together.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis
import redis.asyncio as aioredis
from websockets.asyncio.server import serve
from websockets.extensions import permessage_deflate

from contracts.names import REQUEST_STATE_KEY, reply_channel
from contracts.queue import make_celery
from contracts.settings import Settings
from contracts.thread import RedisThreads
from gateway import packs
from gateway.auth import Authenticator
from gateway.calls.enqueue import Enqueuer
from gateway.calls.replies import ReplyListener
from gateway.calls.sweep import Sweeper
from gateway.core.assembly import Ports, Protocol, assemble
from gateway.core.inflight import InFlight
from gateway.limits import ClientLimits, ConnectionLimits
from gateway.task_store import RedisTaskStore
from gateway.telemetry import GatewayTelemetry
from gateway.transports.http import HttpFront
from gateway.transports.websocket import MCP_SUBPROTOCOL, WebSocketFront, select_subprotocol

log = logging.getLogger(__name__)


class Gateway:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        pool = aioredis.BlockingConnectionPool.from_url(
            settings.redis_url,
            max_connections=settings.exai_gateway_redis_max_connections,
            timeout=settings.exai_redis_pool_timeout_s,
            health_check_interval=30,
        )
        self.redis = aioredis.Redis(connection_pool=pool)
        # The enqueue threads write task records with it, right before they send the job.
        self.sync_redis = redis.Redis(
            connection_pool=redis.BlockingConnectionPool.from_url(
                settings.redis_url,
                max_connections=settings.exai_enqueue_threads + 2,
                timeout=settings.exai_redis_pool_timeout_s,
            )
        )
        self.gateway_id = uuid.uuid4().hex
        self.inflight = InFlight()
        self.telemetry = GatewayTelemetry(settings, self.redis, self.gateway_id, lambda: len(self.inflight))
        self.enqueuer = Enqueuer(
            settings,
            make_celery(settings),
            self.redis,
            self.sync_redis,
            self.inflight,
            reply_channel(self.gateway_id),
        )
        self.catalog = packs.catalog(settings)  # the built-in tools and those of EXAI_TOOL_PACKS
        self.store = RedisTaskStore(self.redis, settings.exai_result_ttl_s)
        self.auth = Authenticator(settings.gateway_tokens())
        self.limits = ClientLimits.from_settings(settings)
        self.sweeper = Sweeper(settings, self.redis, self.inflight)
        self.protocol: Protocol | None = None

    async def assemble(self) -> Protocol:
        """The protocol core over this process's ports (the requestState key agreed first)."""
        keys = self.settings.request_state_keys() or (await self._agreed_key(),)
        self.protocol = assemble(
            Ports(
                settings=self.settings,
                catalog=self.catalog,
                calls=self.enqueuer,
                store=self.store,
                threads=RedisThreads(self.redis, self.settings.exai_thread_ttl_s),
                state_keys=keys,
                limits=self.limits,
                telemetry=self.telemetry,
                inflight=self.inflight,
            )
        )
        return self.protocol

    async def _agreed_key(self) -> bytes:
        # Every gateway must open the requestState another one sealed: the first to start sets
        # the key, the others read it (kept as long as Redis keeps it; rotate with the setting).
        await self.redis.set(REQUEST_STATE_KEY, secrets.token_urlsafe(32), nx=True)
        key = await self.redis.get(REQUEST_STATE_KEY)
        return key if isinstance(key, bytes) else str(key).encode()

    async def run(
        self, *, stop: asyncio.Event | None = None, on_ready: Callable[[int], None] | None = None
    ) -> None:
        stop = stop or asyncio.Event()
        s = self.settings
        protocol = await self.assemble()
        listener = ReplyListener(
            self.redis,
            self.enqueuer.reply_to,
            self.inflight,
            protocol.listeners,
            self.catalog,
            self.store,
            int(s.exai_task_poll_interval_s * 1000),
            lambda: self.sweeper.sweep(everything=True),
        )
        services = [
            asyncio.create_task(listener.run(), name="exai-replies"),
            asyncio.create_task(self.sweeper.run(), name="exai-sweep"),
        ]
        self.telemetry.start()
        http = HttpFront(s, protocol, self.auth, self.redis.ping)
        ws = WebSocketFront(
            protocol,
            self.auth,
            s.origin_policy(),
            ConnectionLimits(max_total=s.exai_max_connections, max_per_ip=s.exai_max_connections_per_ip),
            s.exai_legacy_hello_timeout_s,
            on_open=self.telemetry.connection_opened,
            on_close=self.telemetry.connection_closed,
            clock=time.time,
        )
        try:
            await asyncio.wait_for(listener.subscribed.wait(), timeout=s.exai_provider_connect_timeout_s)
            async with serve(
                ws.handle,
                s.exai_ws_host,
                s.exai_ws_port,
                subprotocols=[MCP_SUBPROTOCOL],
                select_subprotocol=select_subprotocol,
                process_request=ws.process_request,
                max_size=s.exai_ws_max_frame_bytes,
                open_timeout=s.exai_handshake_timeout_s,
                ping_interval=s.exai_ws_ping_interval_s,
                ping_timeout=s.exai_ws_ping_timeout_s,
                server_header=None,
                **compression(s),
            ) as server:
                port = next(iter(server.sockets)).getsockname()[1]
                http_port = await http.start(s.exai_ws_host, s.exai_http_port)
                print(
                    f"MCP Streamable HTTP on http://{s.exai_ws_host}:{http_port}/mcp",
                    file=sys.stderr,
                    flush=True,
                )
                # A start-up banner, printed whatever LOG_LEVEL is: supervisors and tests wait for it.
                print(
                    f"gateway listening on ws://{s.exai_ws_host}:{port}/ (auth "
                    f"{'required' if self.auth.required else 'off'})",
                    file=sys.stderr,
                    flush=True,
                )
                if not self.auth.required:
                    log.warning(
                        "EXAI_AUTH=none: no client token is required, so any process that can reach "
                        "%s:%d may call every tool (browsers are still held to EXAI_ALLOWED_ORIGINS)",
                        s.exai_ws_host,
                        port,
                    )
                elif s.uses_token_file():
                    log.info("client token: the one in %s (exai call and exai stdio read it)", s.token_file())
                if on_ready:
                    on_ready(port)
                await stop.wait()
                log.info("gateway stopping; calls in flight keep running and keep their results")
                protocol.listeners.close_all(protocol.replies)
        finally:
            await http.close()
            for task in services:
                task.cancel()
            await asyncio.gather(*services, return_exceptions=True)
            await self.enqueuer.close()
            await self.telemetry.close()
            await self.redis.aclose()
            with contextlib.suppress(Exception):
                self.sync_redis.close()


def compression(settings: Settings) -> dict[str, Any]:
    """permessage-deflate as configured: websockets' defaults cost ~50 KB per idle connection."""
    bits = settings.exai_ws_deflate_window_bits
    if bits == 0:
        return {"compression": None}
    factory = permessage_deflate.ServerPerMessageDeflateFactory(
        server_max_window_bits=bits,
        client_max_window_bits=bits,
        compress_settings={"memLevel": settings.exai_ws_deflate_mem_level},
    )
    return {"extensions": [factory], "compression": None}


def run_gateway(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await Gateway(settings).run(stop=stop)

    asyncio.run(main())
