"""The live dashboard: one self-contained page, and a WebSocket that pushes the state every second.

The page has no external assets (it works offline). When ``EXAI_DASHBOARD_TOKEN`` is set, the page
and its WebSocket need it (``?token=`` or ``Authorization: Bearer``); without one the dashboard
only listens on localhost and answers only requests whose ``Host`` names it (DNS rebinding). A
foreign ``Origin`` is refused either way (see contracts/origins.py).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from contracts.origins import shown
from contracts.settings import Settings
from contracts.version import __version__
from monitoring.activity import Activity
from monitoring.consumer import Consumer
from monitoring.health import iso

log = logging.getLogger(__name__)
PAGE = Path(__file__).with_name("static") / "dashboard.html"


def dashboard_state(consumer: Consumer, activity: Activity) -> dict[str, Any]:
    snap = consumer.snapshot
    summary = activity.summary()
    provider_activity = summary.pop("providers")
    providers = {}
    for name, breaker in sorted(snap.breakers.items()):
        recent = provider_activity.get(name, {})
        providers[name] = {
            "breaker": breaker.state,
            "failures": breaker.failures,
            "last_error": recent.get("last_error") or breaker.last_error,
            "recent_errors": recent.get("recent_errors", 0),
            "retries": recent.get("retries", 0),
        }
    return {
        "version": __version__,
        "timestamp": iso(time.time()),
        "redis_ok": consumer.snapshot_ok,
        "gateways": {
            "up": len(snap.gateways),
            "connections": snap.connections,
            "in_flight": snap.in_flight,
        },
        "queues": [
            {"name": q.name, "waiting": q.length, "oldest_age_s": q.oldest_age_s} for q in snap.queues
        ],
        "workers": [
            {
                "hostname": w.hostname,
                "active": w.active,
                "concurrency": w.concurrency,
                "rss_mb": round(w.rss_bytes / 1_048_576, 1),
                "cpu": round(w.cpu_ratio, 3),
                "since": iso(w.started_at),
            }
            for w in sorted(snap.workers, key=lambda w: w.hostname)
        ],
        "providers": providers,
        "set_aside": {
            "window_s": activity.window_s,
            "recent": len(activity.set_aside_since(time.time() - activity.window_s)),
            "calls": [
                {"at": r.at, "tool": r.tool, "handovers": r.handovers, "correlation_id": r.correlation_id}
                for r in reversed(activity.set_aside)
            ],
        },
        **summary,
    }


class Dashboard:
    def __init__(self, settings: Settings, consumer: Consumer, activity: Activity) -> None:
        self.settings = settings
        self.consumer = consumer
        self.activity = activity
        self.page = PAGE.read_bytes()
        self.origins = settings.origin_policy()
        self._cached: tuple[float, str] = (0.0, "")

    def state_json(self) -> str:
        """The state as JSON, computed at most once per push interval however many pages are open."""
        now = time.monotonic()
        taken, text = self._cached
        if not text or now - taken >= self.settings.exai_dashboard_push_s / 2:
            text = json.dumps(dashboard_state(self.consumer, self.activity))
            self._cached = (now, text)
        return text

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self.index)
        app.router.add_get("/ws", self.websocket)
        app.router.add_get("/state", self.state)
        return app

    def _authorised(self, request: web.Request) -> bool:
        token = self.settings.exai_dashboard_token
        if token is None:
            return True
        given = _offered_token(request)
        return given is not None and hmac.compare_digest(given.encode(), token.get_secret_value().encode())

    def _refusal(self, request: web.Request) -> web.Response | None:
        """The answer refusing this request (403 for its Origin or Host, 401 for its token), or None."""
        origins, hosts = request.headers.getall("Origin", []), request.headers.getall("Host", [])
        # Without a token, a DNS-rebinding page could read the state: then the Host is checked too.
        refusal = self.origins.refusal(origins, hosts, check_host=self.settings.exai_dashboard_token is None)
        if refusal is not None:
            log.warning(
                "dashboard refused a request from %s: %s (Origin %s, Host %s)",
                request.remote,
                refusal,
                shown(origins[0] if origins else None),
                shown(hosts[0] if hosts else None),
            )
            return web.Response(status=403, text=f"{refusal}\n")
        if not self._authorised(request):
            return web.Response(status=401, text="Unauthorized: missing or invalid dashboard token\n")
        return None

    async def index(self, request: web.Request) -> web.Response:
        if (refused := self._refusal(request)) is not None:
            return refused
        return web.Response(
            body=self.page,
            content_type="text/html",
            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
        )

    async def state(self, request: web.Request) -> web.Response:
        if (refused := self._refusal(request)) is not None:
            return refused
        return web.Response(text=self.state_json(), content_type="application/json")

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        if (refused := self._refusal(request)) is not None:
            return refused  # before the upgrade: the browser sees the handshake fail
        ws = web.WebSocketResponse(heartbeat=30)
        await ws.prepare(request)
        reader = asyncio.create_task(self._drain(ws))
        try:
            while not ws.closed and not reader.done():
                await ws.send_str(self.state_json())
                await asyncio.wait({reader}, timeout=self.settings.exai_dashboard_push_s)
        except (ConnectionError, RuntimeError):
            pass  # the browser went away
        finally:
            reader.cancel()
        return ws

    async def _drain(self, ws: web.WebSocketResponse) -> None:
        # The page sends nothing; reading notices when it closes.
        async for message in ws:
            if message.type == WSMsgType.ERROR:
                break


def _offered_token(request: web.Request) -> str | None:
    # The auth scheme is case-insensitive (RFC 7235), as the gateway reads it.
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.query.get("token")
