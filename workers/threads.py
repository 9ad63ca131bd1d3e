"""Conversation threads (``continuation_id``): turns kept in Redis, rebuilt into the next prompt.

A thread is one JSON value under ``exai:thread:<id>`` whose TTL (EXAI_THREAD_TTL_S) is refreshed on
every turn; it holds at most EXAI_THREAD_MAX_TURNS turns and belongs to the client identity that
created it. Writes use optimistic locking (WATCH) so two calls on one thread never lose a turn.
Workflow tools keep their step state in ``state``.

A call continuing a thread reserves its turn pair before it asks a provider, atomically against
the turns recorded and the live reservations of other calls, so two calls racing for the last
turns cannot both pay for an answer only one can record: the loser is refused at once. A
reservation is consumed when the call's turns are appended, given back when the call ends
without them, and lapses at the call's deadline if its worker dies; a call run again (a
redelivery, a retry) finds its own reservation and keeps it.
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
from contracts.names import thread_key, thread_reservations_key
from contracts.settings import Settings
from workers.write_behind import WriteBehind

# Called with a thread that Redis no longer has, to restore it from durable storage (Supabase).
Restorer = Callable[[str], "Thread | None"]

TURNS_PER_CALL = 2  # the user's turn and the answer

# Reserve a turn pair for ARGV[1]: 1 if reserved (or the call's turns are already recorded), 0 if
# the turns recorded plus every live reservation leave no room, -1 if the thread is gone.
_RESERVE = """
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[2])
local raw = redis.call('GET', KEYS[1])
if not raw then return -1 end
local turns = cjson.decode(raw)['turns']
for _, turn in ipairs(turns) do
  if turn['call_id'] == ARGV[1] then return 1 end
end
local others = redis.call('ZCARD', KEYS[2])
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then others = others - 1 end
local per_call = tonumber(ARGV[5])
if #turns + per_call * (others + 1) > tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
local ttl = tonumber(ARGV[3]) - tonumber(ARGV[2])
if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
return 1
"""


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
        self._reserve = client.register_script(_RESERVE)

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
            raise self._unknown(thread_id)
        return thread

    def _unknown(self, thread_id: str) -> InvalidArguments:
        hours = self.settings.exai_thread_ttl_s / 3600
        return InvalidArguments(
            f"continuation_id {thread_id!r} is unknown or expired (threads last {hours:g} h after "
            "their last turn, EXAI_THREAD_TTL_S): start a new conversation without continuation_id"
        )

    def reserve(self, thread: Thread, call_id: str, until: float, now: float | None = None) -> None:
        """Reserve the turn pair ``call_id`` will append, until ``until`` (Unix time, the call's
        deadline); ThreadLimitReached if the thread has no room left for it."""
        now_ms = int((time.time() if now is None else now) * 1000)
        keys = [thread_key(thread.id), thread_reservations_key(thread.id)]
        args: list[str | int] = [call_id, now_ms, int(until * 1000), self.max_turns, TURNS_PER_CALL]
        reserved = self._reserve(keys=keys, args=args)
        if reserved == -1:
            raise self._unknown(thread.id)
        if not reserved:
            raise self._limit_reached(thread)

    def release(self, pipe: redis.client.Pipeline, thread_id: str, call_id: str) -> None:
        """Queue giving back ``call_id``'s reservation (nothing if it was consumed) on ``pipe``."""
        pipe.zrem(thread_reservations_key(thread_id), call_id)

    def ensure_room(self, thread: Thread, turns: int = TURNS_PER_CALL) -> None:
        if len(thread.turns) + turns > self.max_turns:
            raise self._limit_reached(thread)

    def _limit_reached(self, thread: Thread) -> ThreadLimitReached:
        return ThreadLimitReached(
            f"conversation {thread.id} has reached its limit of {self.max_turns} turns "
            "(EXAI_THREAD_MAX_TURNS): start a new conversation without continuation_id, "
            "summarising what matters in the prompt"
        )

    def append(self, thread: Thread, turns: list[Turn], state: dict[str, Any] | None = None) -> Thread:
        """Add turns (and replace the workflow state) atomically, consuming their call's reservation;
        the room other calls reserved is theirs. Refreshes the TTL."""
        key, reservations = thread_key(thread.id), thread_reservations_key(thread.id)
        mine = {t.call_id for t in turns if t.call_id}
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key, reservations)  # type: ignore[no-untyped-call]
                    raw = pipe.get(key)
                    current = Thread.from_json(raw) if raw is not None else thread
                    done = {t.call_id for t in current.turns if t.call_id}
                    if any(t.call_id in done for t in turns):
                        pipe.unwatch()
                        return current  # a redelivered call whose turns are already recorded
                    live = pipe.zrangebyscore(reservations, int(time.time() * 1000), "+inf")
                    others = sum(1 for m in live if (m.decode() if isinstance(m, bytes) else m) not in mine)
                    if len(current.turns) + len(turns) + TURNS_PER_CALL * others > self.max_turns:
                        pipe.unwatch()
                        raise self._limit_reached(current)
                    current.turns.extend(turns)
                    if state is not None:
                        current.state = state
                    pipe.multi()
                    pipe.set(key, current.to_json(), ex=self.settings.exai_thread_ttl_s)
                    if mine:
                        pipe.zrem(reservations, *mine)
                    pipe.execute()
                    return current
                except redis.WatchError:
                    continue

    def remaining(self, thread: Thread) -> int:
        return max(self.max_turns - len(thread.turns), 0)
