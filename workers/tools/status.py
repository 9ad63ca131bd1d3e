"""``status``: providers, models, breakers, the queue and live workers; no secrets."""

from __future__ import annotations

import json
from typing import Any

import redis

from contracts.names import SUPABASE_QUEUE, TOOL_QUEUE, WORKER_HEARTBEAT_KEY, breaker_key
from workers.context import ToolContext
from workers.envelope import local_envelope

MAX_WORKERS_LISTED = 100


def _breaker(client: redis.Redis | None, provider: str) -> str:
    if client is None:
        return "unknown"
    state = client.hget(breaker_key(provider), "state")
    if state is None:
        return "closed"
    return state.decode() if isinstance(state, bytes) else str(state)


def _workers(client: redis.Redis | None) -> list[dict[str, Any]]:
    if client is None:
        return []
    out: list[dict[str, Any]] = []
    pattern = WORKER_HEARTBEAT_KEY.format(hostname="*")
    for key in client.scan_iter(match=pattern, count=100):
        raw = client.get(key)
        if raw is None:
            continue
        try:
            beat = json.loads(raw)
        except ValueError:
            beat = {}
        name = key.decode() if isinstance(key, bytes) else str(key)
        entry = {"hostname": name.removeprefix(pattern[:-1])}
        if isinstance(beat, dict):
            entry.update({k: v for k, v in beat.items() if isinstance(v, int | float | str | bool)})
        out.append(entry)
        if len(out) >= MAX_WORKERS_LISTED:
            break
    return out


def run(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    settings = ctx.settings
    configured = set(settings.configured_providers())
    providers = [
        {
            "name": p,
            "configured": p in configured,
            "models": len(settings.models(p)),
            "default_model": getattr(settings, f"{p}_default_model"),
            "breaker": _breaker(ctx.redis, p),
        }
        for p in settings.provider_order()
    ]
    pending = int(ctx.redis.llen(TOOL_QUEUE)) if ctx.redis is not None else 0
    history = int(ctx.redis.llen(SUPABASE_QUEUE)) if ctx.redis is not None else 0
    workers = _workers(ctx.redis)
    lines = [
        f"- {p['name']}: {'configured' if p['configured'] else 'no API key'}, {p['models']} models, "
        f"default {p['default_model']}, breaker {p['breaker']}"
        for p in providers
    ]
    lines.append(f"- queue {TOOL_QUEUE}: {pending} calls waiting")
    if ctx.settings.supabase_url:
        lines.append(f"- Supabase history: {history} writes waiting")
    lines.append(f"- workers alive: {len(workers)}")
    return local_envelope(
        "Server status:\n" + "\n".join(lines),
        providers=providers,
        queue={"name": TOOL_QUEUE, "pending": pending, "history_pending": history},
        workers=workers,
    )
