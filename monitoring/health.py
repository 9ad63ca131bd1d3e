"""Health of the whole service: each dependency checked as a component with a status and a message.

Liveness is the monitor process itself. Readiness checks Redis on a fresh connection (a pooled one
can look alive while the server is gone), live workers by their heartbeats, the queue's backlog and
the age of its oldest call, calls set aside lately (each stopped workers), each provider, Supabase
when configured, memory and disk. Calls in
flight are normal work, never a degradation. Responses carry no secret, URL or message text from
elsewhere: only statuses, counts and error classes.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import psutil
import redis.asyncio as aioredis

from contracts.settings import Settings
from contracts.version import __version__
from monitoring.activity import Activity
from monitoring.state import Snapshot

OK, WARN, DEGRADED, UNHEALTHY = "ok", "warn", "degraded", "unhealthy"
RANK = {OK: 0, WARN: 1, DEGRADED: 2, UNHEALTHY: 3}


@dataclass(frozen=True)
class Component:
    name: str
    status: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


def overall(components: list[Component]) -> str:
    """Unhealthy or degraded if any component is; warnings alone leave the service healthy."""
    worst = max((RANK[c.status] for c in components), default=0)
    return {3: "unhealthy", 2: "degraded"}.get(worst, "healthy")


async def check_redis(settings: Settings) -> Component:
    timeout = settings.exai_health_timeout_s
    client = aioredis.Redis.from_url(
        settings.redis_url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        single_connection_client=True,
    )
    started = time.monotonic()
    try:
        await asyncio.wait_for(client.ping(), timeout)
    except (TimeoutError, OSError, aioredis.RedisError) as exc:
        return Component("redis", UNHEALTHY, f"cannot reach Redis ({type(exc).__name__})")
    finally:
        await client.aclose()
    return Component("redis", OK, "reachable", {"latency_ms": round((time.monotonic() - started) * 1000, 2)})


def check_workers(snapshot: Snapshot, fresh: bool) -> Component:
    if not fresh:
        return Component("workers", UNHEALTHY, "worker heartbeats cannot be read (Redis unreachable)")
    workers = snapshot.workers
    details = {
        "up": len(workers),
        "active_calls": sum(w.active for w in workers),
        "concurrency": sum(w.concurrency for w in workers),
        "last_heartbeat": iso(max(w.updated_at for w in workers)) if workers else None,
    }
    if not workers:
        return Component("workers", UNHEALTHY, "no worker has sent a heartbeat: calls cannot run", details)
    return Component("workers", OK, f"{len(workers)} worker(s) up", details)


def check_queue(snapshot: Snapshot, fresh: bool, settings: Settings) -> Component:
    if not fresh:
        return Component("queue", UNHEALTHY, "queue state cannot be read (Redis unreachable)")
    waiting = snapshot.waiting
    ages = [q.oldest_age_s for q in snapshot.queues if q.oldest_age_s is not None]
    oldest = max(ages) if ages else None
    details = {"waiting": waiting, "oldest_age_s": round(oldest, 3) if oldest is not None else None}
    if waiting > settings.exai_health_queue_backlog:
        return Component(
            "queue",
            DEGRADED,
            f"{waiting} calls waiting, above EXAI_HEALTH_QUEUE_BACKLOG={settings.exai_health_queue_backlog}",
            details,
        )
    if oldest is not None and oldest > settings.exai_health_queue_age_s:
        return Component(
            "queue",
            DEGRADED,
            f"the oldest call has waited {oldest:.0f} s, above EXAI_HEALTH_QUEUE_AGE_S="
            f"{settings.exai_health_queue_age_s:.0f}",
            details,
        )
    return Component("queue", OK, f"{waiting} call(s) waiting", details)


def check_set_aside(activity: Activity, settings: Settings, now: float | None = None) -> Component:
    """Degraded while a call was set aside within EXAI_HEALTH_SET_ASIDE_WINDOW_S: something sent
    calls that crash or hang workers, and an operator should look."""
    window = settings.exai_health_set_aside_window_s
    recent = activity.set_aside_since((time.time() if now is None else now) - window)
    details = {
        "recent": len(recent),
        "window_s": window,
        "tools": sorted({r.tool for r in recent}),
        "last_at": iso(recent[-1].at) if recent else None,
    }
    if recent:
        return Component(
            "set_aside_calls",
            DEGRADED,
            f"{len(recent)} call(s) set aside in the last {window:.0f} s after stopping workers "
            "(crashed or hung while running them); the dashboard lists their correlation ids",
            details,
        )
    return Component("set_aside_calls", OK, f"no call set aside in the last {window:.0f} s", details)


def check_providers(snapshot: Snapshot, activity: Activity, settings: Settings) -> list[Component]:
    configured = settings.configured_providers()
    out = []
    for provider in settings.provider_order():
        breaker = snapshot.breakers.get(provider)
        state = breaker.state if breaker else "closed"
        last_error = activity.last_error.get(provider) or (breaker.last_error if breaker else None)
        details = {"configured": provider in configured, "breaker": state, "last_error": last_error}
        name = f"provider:{provider}"
        if provider not in configured:
            out.append(Component(name, OK, "not configured (no API key)", details))
        elif state == "open":
            out.append(Component(name, DEGRADED, "circuit breaker open: calls fail fast", details))
        elif state == "half_open":
            out.append(Component(name, WARN, "circuit breaker half open: probing", details))
        else:
            out.append(Component(name, OK, "configured, breaker closed", details))
    if not configured:
        out.append(Component("providers", UNHEALTHY, "no provider API key is set"))
    return out


async def check_supabase(settings: Settings) -> Component | None:
    url = getattr(settings, "supabase_url", None)
    if not url:
        return None
    key = getattr(settings, "supabase_key", None)
    headers = {}
    if key is not None:
        secret = key.get_secret_value()
        headers = {"apikey": secret, "Authorization": f"Bearer {secret}"}
    try:
        async with httpx.AsyncClient(timeout=settings.exai_health_timeout_s) as client:
            response = await client.get(f"{url.rstrip('/')}/rest/v1/", headers=headers)
    except httpx.HTTPError as exc:
        # Supabase only mirrors history; calls go on without it.
        return Component("supabase", DEGRADED, f"cannot reach Supabase ({type(exc).__name__})")
    if response.status_code >= 500:
        return Component("supabase", DEGRADED, f"Supabase answered HTTP {response.status_code}")
    return Component("supabase", OK, "reachable", {"http_status": response.status_code})


def check_memory(settings: Settings) -> Component:
    memory = psutil.virtual_memory()
    rss = psutil.Process().memory_info().rss
    details = {"used_percent": memory.percent, "monitor_rss_bytes": rss}
    if memory.percent >= settings.exai_memory_critical_percent:
        status, word = UNHEALTHY, "critical"
    elif memory.percent >= settings.exai_memory_warn_percent:
        status, word = WARN, "high"
    else:
        status, word = OK, "normal"
    return Component("memory", status, f"memory use {word}: {memory.percent:.1f} %", details)


def check_disk(settings: Settings) -> Component:
    try:
        usage = psutil.disk_usage(settings.exai_disk_path)
    except OSError as exc:
        return Component("disk", DEGRADED, f"disk use cannot be read ({type(exc).__name__})")
    details = {"used_percent": usage.percent, "free_bytes": usage.free}
    if usage.percent >= settings.exai_disk_unhealthy_percent:
        return Component("disk", UNHEALTHY, f"disk nearly full: {usage.percent:.1f} %", details)
    if usage.percent >= settings.exai_disk_degraded_percent:
        return Component("disk", DEGRADED, f"disk filling up: {usage.percent:.1f} %", details)
    return Component("disk", OK, f"disk use {usage.percent:.1f} %", details)


class HealthChecker:
    def __init__(self, settings: Settings, snapshot: Any, activity: Activity) -> None:
        """``snapshot`` is an object with ``snapshot`` and ``snapshot_ok`` (the consumer)."""
        self.settings = settings
        self.source = snapshot
        self.activity = activity
        self.started_at = time.time()

    def liveness(self) -> dict[str, Any]:
        return {
            "status": "healthy",
            "version": __version__,
            "timestamp": iso(time.time()),
            "started_at": iso(self.started_at),
        }

    async def readiness(self) -> tuple[int, dict[str, Any]]:
        s = self.settings
        redis_check, supabase = await asyncio.gather(check_redis(s), check_supabase(s))
        snapshot: Snapshot = self.source.snapshot
        fresh = bool(self.source.snapshot_ok) and redis_check.status == OK
        components = [
            redis_check,
            check_workers(snapshot, fresh),
            check_queue(snapshot, fresh, s),
            check_set_aside(self.activity, s),
            *check_providers(snapshot, self.activity, s),
            *([supabase] if supabase else []),
            check_memory(s),
            check_disk(s),
        ]
        status = overall(components)
        body = {
            "status": status,
            "version": __version__,
            "timestamp": iso(time.time()),
            "started_at": iso(self.started_at),
            "state_read_at": iso(snapshot.taken_at),
            "in_flight": snapshot.in_flight,  # normal work: shown, never a degradation
            "components": [
                {"name": c.name, "status": c.status, "message": c.message, **c.details} for c in components
            ],
        }
        return (200 if status == "healthy" else 503), body
