"""``exai monitor``: the health, metrics and dashboard servers, in one process reading one Redis."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from contracts.errors import ConfigError
from contracts.origins import shown
from contracts.settings import Settings
from monitoring.activity import Activity
from monitoring.aggregate import Aggregator
from monitoring.consumer import Consumer
from monitoring.dashboard import Dashboard
from monitoring.health import HealthChecker
from monitoring.labels import Labels
from monitoring.metrics import Metrics

log = logging.getLogger(__name__)
LOOPBACK = ("127.0.0.1", "localhost", "::1")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Monitor:
    def __init__(self, settings: Settings) -> None:
        if settings.exai_monitor_host not in LOOPBACK and settings.exai_dashboard_token is None:
            raise ConfigError(
                "EXAI_DASHBOARD_TOKEN must be set when EXAI_MONITOR_HOST listens beyond localhost"
            )
        self.settings = settings
        self.redis = aioredis.Redis.from_url(settings.redis_url, health_check_interval=30)
        self.metrics = Metrics()
        self.activity = Activity(settings.exai_dashboard_window_s, settings.exai_dashboard_recent_calls)
        self.consumer = Consumer(
            self.redis,
            Aggregator(self.metrics, self.activity, Labels(settings)),
            settings.exai_telemetry_flush_s,
        )
        self.health = HealthChecker(settings, self.consumer, self.activity)
        self.dashboard = Dashboard(settings, self.consumer, self.activity)
        self.origins = settings.origin_policy()

    # --- browsers -------------------------------------------------------------------------
    @web.middleware
    async def _browser_check(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Health and metrics hold no secrets, but a web page has no business reading them.

        A foreign ``Origin`` is refused. The ``Host`` is checked only while the monitor listens on
        loopback: then every legitimate scraper names this machine, and a DNS-rebinding page (whose
        same-origin reads carry no ``Origin``) does not; beyond loopback, scrapers name the pod or
        service, so only the Origin check applies.
        """
        origins, hosts = request.headers.getall("Origin", []), request.headers.getall("Host", [])
        loopback = self.settings.exai_monitor_host in LOOPBACK
        refusal = self.origins.refusal(origins, hosts, check_host=loopback)
        if refusal is not None:
            log.warning(
                "monitor refused %s from %s: %s (Origin %s, Host %s)",
                request.path[:64],
                request.remote,
                refusal,
                shown(origins[0] if origins else None),
                shown(hosts[0] if hosts else None),
            )
            return web.Response(status=403, text=f"{refusal}\n")
        return await handler(request)

    # --- health ---------------------------------------------------------------------------
    def health_app(self) -> web.Application:
        app = web.Application(middlewares=[self._browser_check])
        for path in ("/health", "/healthz", "/health/ready", "/readyz"):
            app.router.add_get(path, self._ready)
        for path in ("/health/live", "/livez"):
            app.router.add_get(path, self._live)
        return app

    async def _live(self, _: web.Request) -> web.Response:
        return web.json_response(self.health.liveness())

    async def _ready(self, _: web.Request) -> web.Response:
        status, body = await self.health.readiness()
        return web.json_response(body, status=status, headers={"Cache-Control": "no-store"})

    # --- metrics --------------------------------------------------------------------------
    def metrics_app(self) -> web.Application:
        app = web.Application(middlewares=[self._browser_check])
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/", self._metrics)
        return app

    async def _metrics(self, _: web.Request) -> web.Response:
        response = web.Response(body=self.metrics.render())
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    # --- running --------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        s = self.settings
        tasks = [
            asyncio.create_task(self.consumer.read_events_forever(), name="exai-monitor-events"),
            asyncio.create_task(self.consumer.read_state_forever(), name="exai-monitor-state"),
        ]
        runners: list[web.AppRunner] = []
        ports: dict[str, int] = {}
        try:
            for name, app, port in (
                ("health", self.health_app(), s.health_port),
                ("metrics", self.metrics_app(), s.metrics_port),
                ("dashboard", self.dashboard.app(), s.dashboard_port),
            ):
                runner = web.AppRunner(app, access_log=None, handle_signals=False)
                await runner.setup()
                runners.append(runner)
                site = web.TCPSite(runner, s.exai_monitor_host, port)
                await site.start()
                server = site._server
                sockets = getattr(server, "sockets", None) or []
                ports[name] = sockets[0].getsockname()[1] if sockets else port
            host = s.exai_monitor_host
            # A start-up banner, printed whatever LOG_LEVEL is: supervisors and tests wait for it.
            print(
                f"monitor listening: health http://{host}:{ports['health']}/health "
                f"metrics http://{host}:{ports['metrics']}/metrics "
                f"dashboard http://{host}:{ports['dashboard']}/",
                file=sys.stderr,
                flush=True,
            )
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for runner in runners:
                with contextlib.suppress(Exception):
                    await runner.cleanup()
            await self.redis.aclose()


def run_monitor(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await Monitor(settings).run(stop)

    asyncio.run(main())
