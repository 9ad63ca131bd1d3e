"""Threads as gateways read them: the caller's own, newest first, never another identity's."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

import pytest
import redis
import redis.asyncio as aioredis

from contracts.names import thread_index_key
from contracts.settings import load_settings
from contracts.thread import RedisThreads, Thread, Turn
from tests.workers.redis_fixture import redis_client
from workers.threads import ThreadStore

__all__ = ["redis_client"]
pytestmark = pytest.mark.anyio
SETTINGS = load_settings()


@pytest.fixture
def client(redis_client: redis.Redis) -> Iterator[redis.Redis]:
    redis_client.flushdb()
    yield redis_client


@pytest.fixture
async def reader(client: redis.Redis) -> AsyncIterator[RedisThreads]:
    port = client.connection_pool.connection_kwargs["port"]
    async_client = aioredis.Redis(port=port)
    try:
        yield RedisThreads(async_client, SETTINGS.exai_thread_ttl_s)
    finally:
        await async_client.aclose()


def turns(call_id: str) -> list[Turn]:
    return [
        Turn("user", f"q {call_id}", "chat", call_id=call_id),
        Turn("assistant", "a", "chat", call_id=call_id),
    ]


async def test_the_caller_lists_its_own_threads_most_recently_continued_first(
    client: redis.Redis, reader: RedisThreads
) -> None:
    """Three of alice's threads and one of bob's: alice sees hers, the one continued last first."""
    now = [time.time()]
    store = ThreadStore(client, SETTINGS, clock=lambda: now[0])
    first = store.create("alice", "chat", turns("c1"))
    now[0] += 1
    second = store.create("alice", "debug", turns("c2"))
    store.create("bob", "chat", turns("c3"))
    now[0] += 1
    store.append(first, turns("c4"))
    listed = await reader.recent("alice", 10)
    assert [t.id for t in listed] == [first.id, second.id]
    assert [t.id for t in await reader.recent("alice", 1)] == [first.id]


async def test_another_identitys_thread_reads_like_a_missing_one(
    client: redis.Redis, reader: RedisThreads
) -> None:
    """get() by id answers None for bob's thread asked by alice, and for an unknown id."""
    bobs = ThreadStore(client, SETTINGS).create("bob", "chat", turns("c1"))
    assert await reader.get("alice", bobs.id) is None
    assert await reader.get("alice", "no-such-thread") is None
    mine = await reader.get("bob", bobs.id)
    assert mine is not None and mine.turns[0].content == "q c1"


async def test_an_indexed_thread_that_expired_is_skipped(client: redis.Redis, reader: RedisThreads) -> None:
    """The index may outlive a thread by a moment: the listing shows only threads that exist."""
    store = ThreadStore(client, SETTINGS)
    gone, kept = store.create("alice", "chat", turns("c1")), store.create("alice", "chat", turns("c2"))
    client.delete(f"exai:thread:{gone.id}")
    assert [t.id for t in await reader.recent("alice", 10)] == [kept.id]
    assert client.zcard(thread_index_key("alice")) == 2


async def test_an_index_entry_older_than_any_live_thread_is_not_read(client: redis.Redis) -> None:
    """Entries scored before now - EXAI_THREAD_TTL_S are ignored even if the key still answers."""
    client.zadd(thread_index_key("alice"), {"ancient": 1.0})
    async_client = aioredis.Redis(port=client.connection_pool.connection_kwargs["port"])
    try:
        assert await RedisThreads(async_client, 60).recent("alice", 10) == []
    finally:
        await async_client.aclose()


def test_the_public_view_shows_turns_and_state_but_not_call_ids() -> None:
    """What the owner reads: its turns and workflow state, without the worker's bookkeeping."""
    recorded = [
        Turn("user", "q", "debug", call_id="call-7f3a"),
        Turn("assistant", "a", "debug", call_id="call-7f3a"),
    ]
    thread = Thread(id="t1", owner="alice", tool="debug", turns=recorded, state={"steps": []})
    view = thread.public_view()
    assert view["continuation_id"] == "t1" and view["state"] == {"steps": []}
    assert "call-7f3a" not in str(view) and "owner" not in view
    assert view["turns"][0] == {
        "role": "user",
        "content": "q",
        "tool": "debug",
        "timestamp": recorded[0].timestamp,
    }
    assert view["updated_at"] == thread.turns[-1].timestamp
