"""The live state every process leaves in Redis, read in one pass: heartbeats, queue, breakers.

Gateways and workers refresh heartbeat keys with a TTL (see ``contracts.events``) and list them in
an index scored by expiry, so a process that died simply drops out; no broadcast to workers is
needed, and reading costs a few round trips whatever the number of calls in flight or keys stored.
"""

from __future__ import annotations

import base64
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from pydantic import ValidationError

from contracts.events import Heartbeat
from contracts.models import PROVIDERS
from contracts.names import GATEWAY_INDEX, TOOL_QUEUE, WORKER_INDEX, breaker_key

# kombu's Redis transport keeps priorities other than 0 in sibling lists named queue + sep + step.
PRIORITY_SEP = "\x06\x16"
PRIORITY_STEPS = (3, 6, 9)
QUEUES = (TOOL_QUEUE,)
ERROR_CLASS = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,63}")
BREAKER_STATES = ("closed", "open", "half_open")


@dataclass(frozen=True)
class QueueState:
    name: str
    length: int
    oldest_age_s: float | None  # None when empty (or the oldest message cannot be read)


@dataclass(frozen=True)
class BreakerState:
    provider: str
    state: str
    failures: int
    opened_at: float | None
    last_error: str | None


@dataclass
class Snapshot:
    taken_at: float = field(default_factory=time.time)
    gateways: list[Heartbeat] = field(default_factory=list)
    workers: list[Heartbeat] = field(default_factory=list)
    queues: list[QueueState] = field(default_factory=list)
    breakers: dict[str, BreakerState] = field(default_factory=dict)

    @property
    def connections(self) -> int:
        return sum(g.connections for g in self.gateways)

    @property
    def in_flight(self) -> int:
        return sum(g.in_flight for g in self.gateways)

    @property
    def waiting(self) -> int:
        return sum(q.length for q in self.queues)


def queue_keys(queue: str) -> list[str]:
    return [queue, *(f"{queue}{PRIORITY_SEP}{step}" for step in PRIORITY_STEPS)]


def message_created_at(raw: bytes | str) -> float | None:
    """When the call in a queued Celery message was made (its job's ``created_at``)."""
    try:
        message = json.loads(raw)
        body = message["body"]
        if message.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        _args, kwargs, _embed = json.loads(body)
        created = kwargs["job"]["created_at"]
        return float(created)
    except (ValueError, KeyError, TypeError, IndexError):
        return None


def error_class(value: str | bytes | None) -> str | None:
    """Only the class of an error (e.g. ``rate_limit``), never a message that might hold data."""
    if value is None:
        return None
    text = value.decode(errors="replace") if isinstance(value, bytes) else value
    match = ERROR_CLASS.match(text.strip())
    return match.group(0) if match else None


async def read_heartbeats(client: aioredis.Redis, index: str, now: float) -> list[Heartbeat]:
    """The live heartbeats listed in ``index``; entries past their expiry are dropped from it."""
    async with client.pipeline(transaction=False) as pipe:
        pipe.zremrangebyscore(index, "-inf", now)
        pipe.zrange(index, 0, -1)
        _, keys = await pipe.execute()
    if not keys:
        return []
    beats = []
    for raw in await client.mget(keys):
        if raw is None:
            continue  # expired between the scan and the read
        try:
            beats.append(Heartbeat.model_validate_json(raw))
        except ValidationError:
            continue
    return beats


async def read_queue(client: aioredis.Redis, queue: str, now: float) -> QueueState:
    keys = queue_keys(queue)
    async with client.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.llen(key)
        for key in keys:
            pipe.lindex(key, -1)  # kombu pushes on the left and pops on the right: oldest last
        replies = await pipe.execute()
    lengths, oldest = replies[: len(keys)], replies[len(keys) :]
    created = [c for c in (message_created_at(raw) for raw in oldest if raw is not None) if c is not None]
    return QueueState(
        name=queue,
        length=sum(int(n) for n in lengths),
        oldest_age_s=max(0.0, now - min(created)) if created else None,
    )


async def read_breakers(client: aioredis.Redis) -> dict[str, BreakerState]:
    async with client.pipeline(transaction=False) as pipe:
        for provider in PROVIDERS:
            pipe.hgetall(breaker_key(provider))
        replies = await pipe.execute()
    out = {}
    for provider, raw in zip(PROVIDERS, replies, strict=True):
        fields: dict[str, str] = {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in (raw or {}).items()
        }
        state = fields.get("state", "closed")
        out[provider] = BreakerState(
            provider=provider,
            state=state if state in BREAKER_STATES else "closed",
            failures=_int(fields.get("failures")),
            opened_at=_float(fields.get("opened_at")),
            last_error=error_class(fields.get("last_error")),
        )
    return out


async def read_snapshot(client: aioredis.Redis) -> Snapshot:
    now = time.time()
    return Snapshot(
        taken_at=now,
        gateways=await read_heartbeats(client, GATEWAY_INDEX, now),
        workers=await read_heartbeats(client, WORKER_INDEX, now),
        queues=[await read_queue(client, q, now) for q in QUEUES],
        breakers=await read_breakers(client),
    )


def _int(value: Any) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return 0


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None
