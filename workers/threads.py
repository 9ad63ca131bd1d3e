"""Conversation threads (``continuation_id``): turns kept in Redis, rebuilt into the next prompt.

A thread is one JSON value under ``exai:thread:<id>`` whose TTL (EXAI_THREAD_TTL_S) is refreshed on
every turn; it holds at most EXAI_THREAD_MAX_TURNS turns and belongs to the client identity that
created it. Writes use optimistic locking (WATCH) so two calls on one thread never lose a turn.
Workflow tools keep their step state in ``state``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import redis

from contracts.errors import InvalidArguments
from contracts.names import thread_key
from contracts.settings import Settings
from workers.write_behind import WriteBehind

# Called with a thread that Redis no longer has, to restore it from durable storage (Supabase).
Restorer = Callable[[str], "Thread | None"]


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


class ThreadLimitReached(InvalidArguments):
    """Raised when a thread already holds the most turns it may have."""


class ThreadStore:
    def __init__(self, client: redis.Redis, settings: Settings, restore: Restorer | None = None) -> None:
        self.redis = client
        self.settings = settings
        self.restore = restore

    @property
    def max_turns(self) -> int:
        return self.settings.exai_thread_max_turns

    def create(
        self,
        owner: str,
        tool: str,
        turns: list[Turn] | None = None,
        state: dict[str, Any] | None = None,
        *,
        after: WriteBehind | None = None,
    ) -> Thread:
        """A new thread, written with its first turns in one write (nobody else knows its id yet);
        with ``after``, that write waits for the round trip storing the call's outcome."""
        thread = Thread(id=str(uuid.uuid4()), owner=owner, tool=tool, turns=list(turns or []))
        thread.state = state or {}
        self.ensure_room(thread, 0)
        key, value, ttl = thread_key(thread.id), thread.to_json(), self.settings.exai_thread_ttl_s
        if after is not None:
            after.add(lambda pipe: pipe.set(key, value, ex=ttl))
        else:
            self.redis.set(key, value, ex=ttl)
        return thread

    def load(self, thread_id: str, owner: str) -> Thread:
        """The thread, if it exists and belongs to ``owner``; else a clear InvalidArguments."""
        raw = self.redis.get(thread_key(thread_id))
        thread = Thread.from_json(raw) if raw is not None else None
        if thread is None and self.restore is not None:
            thread = self.restore(thread_id)
            if thread is not None:
                self.redis.set(thread_key(thread.id), thread.to_json(), ex=self.settings.exai_thread_ttl_s)
        # A thread of another client is reported exactly like a missing one, so ids cannot be probed.
        if thread is None or thread.owner != owner:
            hours = self.settings.exai_thread_ttl_s / 3600
            raise InvalidArguments(
                f"continuation_id {thread_id!r} is unknown or expired (threads last {hours:g} h after "
                "their last turn, EXAI_THREAD_TTL_S): start a new conversation without continuation_id"
            )
        return thread

    def ensure_room(self, thread: Thread, turns: int = 2) -> None:
        if len(thread.turns) + turns > self.max_turns:
            raise ThreadLimitReached(
                f"conversation {thread.id} has reached its limit of {self.max_turns} turns "
                "(EXAI_THREAD_MAX_TURNS): start a new conversation without continuation_id, "
                "summarising what matters in the prompt"
            )

    def append(self, thread: Thread, turns: list[Turn], state: dict[str, Any] | None = None) -> Thread:
        """Add turns (and replace the workflow state) atomically; refreshes the TTL."""
        key = thread_key(thread.id)
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)  # type: ignore[no-untyped-call]
                    raw = pipe.get(key)
                    current = Thread.from_json(raw) if raw is not None else thread
                    done = {t.call_id for t in current.turns if t.call_id}
                    if any(t.call_id in done for t in turns):
                        pipe.unwatch()
                        return current  # a redelivered call whose turns are already recorded
                    if len(current.turns) + len(turns) > self.max_turns:
                        pipe.unwatch()
                        self.ensure_room(current, len(turns))
                    current.turns.extend(turns)
                    if state is not None:
                        current.state = state
                    pipe.multi()
                    pipe.set(key, current.to_json(), ex=self.settings.exai_thread_ttl_s)
                    pipe.execute()
                    return current
                except redis.WatchError:
                    continue

    def remaining(self, thread: Thread) -> int:
        return max(self.max_turns - len(thread.turns), 0)
