"""Conversation threads (``continuation_id``) as both sides see them: workers write, gateways read.

A thread is one JSON value under ``thread_key(id)`` (see workers.threads for how turns are added);
it belongs to the client identity that created it. Each identity's thread ids are indexed in the
sorted set ``thread_index_key(owner)``, scored by the time of their last turn, so a gateway lists
and completes the caller's own threads without scanning keys. The index may name a thread that
expired since (threads and index share a TTL but not a clock): readers skip those.

:class:`RedisThreads` is the gateway's read-only port: another identity's thread reads exactly
like a missing one, so thread ids cannot be probed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import redis.asyncio as aioredis

from contracts.names import thread_index_key, thread_key


@dataclass
class Turn:
    role: str  # "user" or "assistant"
    content: str
    tool: str
    files: list[str] = field(default_factory=list)
    provider: str | None = None
    model: str | None = None
    timestamp: float = field(default_factory=time.time)
    call_id: str | None = None  # the call that added the turn: a re-run of that call adds nothing


@dataclass
class Thread:
    id: str
    owner: str
    tool: str
    created_at: float = field(default_factory=time.time)
    turns: list[Turn] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: bytes | str) -> Thread:
        data = json.loads(raw)
        data["turns"] = [Turn(**t) for t in data.get("turns", [])]
        return cls(**data)

    @property
    def updated_at(self) -> float:
        return self.turns[-1].timestamp if self.turns else self.created_at

    def public_view(self) -> dict[str, Any]:
        """What its owner may read: the turns and the workflow state, not the bookkeeping."""
        return {
            "continuation_id": self.id,
            "tool": self.tool,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "turns": [
                {k: v for k, v in asdict(turn).items() if k != "call_id" and v not in (None, [])}
                for turn in self.turns
            ],
            "state": self.state,
        }


class ThreadReader(Protocol):
    """Reading the caller's own threads (the gateway's port; in memory in unit tests)."""

    async def get(self, owner: str, thread_id: str) -> Thread | None: ...

    async def recent(self, owner: str, limit: int) -> list[Thread]: ...


class RedisThreads:
    """:class:`ThreadReader` on Redis: one ZREVRANGEBYSCORE and one MGET per listing."""

    def __init__(self, client: aioredis.Redis, ttl_s: int, clock: Callable[[], float] = time.time) -> None:
        self.redis = client
        self.ttl_s = ttl_s
        self.clock = clock

    async def get(self, owner: str, thread_id: str) -> Thread | None:
        raw = await self.redis.get(thread_key(thread_id))
        thread = _parse(raw)
        return thread if thread is not None and thread.owner == owner else None

    async def recent(self, owner: str, limit: int) -> list[Thread]:
        """The owner's live threads, most recently continued first, at most ``limit``."""
        oldest = self.clock() - self.ttl_s
        ids = await self.redis.zrevrangebyscore(thread_index_key(owner), "+inf", oldest, start=0, num=limit)
        if not ids:
            return []
        names = [i.decode() if isinstance(i, bytes) else str(i) for i in ids]
        raws = await self.redis.mget([thread_key(name) for name in names])
        threads = [_parse(raw) for raw in raws]
        return [t for t in threads if t is not None and t.owner == owner]


def _parse(raw: bytes | str | None) -> Thread | None:
    if raw is None:
        return None
    try:
        return Thread.from_json(raw)
    except (ValueError, TypeError, KeyError):  # a value this release cannot read is no thread
        return None
