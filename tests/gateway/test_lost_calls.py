"""Which calls the gateway reports lost: missing from Redis everywhere, at two checks in a row."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis

from cli.local_redis import LocalRedis
from contracts.names import TOOL_QUEUE, UNACKED_KEY, claim_key, result_key
from gateway.lost_calls import LostCallFinder

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def redis_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    server = LocalRedis(tmp_path_factory.mktemp("redis"), persist=False).start()
    try:
        yield server.port
    finally:
        server.stop()


@pytest.fixture
async def client(redis_port: int) -> AsyncIterator[aioredis.Redis]:
    connection = aioredis.Redis(port=redis_port)
    await connection.flushall()
    try:
        yield connection
    finally:
        await connection.aclose()


def message(call_id: str) -> str:
    """A queue message as kombu's Redis transport stores it (the fields the finder reads)."""
    return json.dumps(
        {"body": "e30=", "headers": {"id": call_id, "task": "exai.tool.chat"}, "properties": {}}
    )


async def test_a_call_missing_at_two_checks_in_a_row_is_lost(client: aioredis.Redis) -> None:
    finder = LostCallFinder(client, 10_000)
    assert await finder.check(["gone"]) == []  # a BRPOP on its way to the worker looks the same once
    assert await finder.check(["gone"]) == ["gone"]
    assert await finder.check(["gone"]) == []  # reported once; sent again, it starts over


async def test_calls_with_an_outcome_a_claim_or_a_message_are_never_lost(client: aioredis.Redis) -> None:
    await client.set(result_key("done"), "{}")
    await client.set(claim_key("running"), "worker-1")
    await client.lpush(TOOL_QUEUE, message("queued"))
    await client.hset(UNACKED_KEY, "tag-1", json.dumps([json.loads(message("delivered")), "", TOOL_QUEUE]))
    await client.lpush(TOOL_QUEUE, "not json")  # a foreign message is skipped, not fatal
    finder = LostCallFinder(client, 10_000)
    calls = ["done", "running", "queued", "delivered"]
    assert await finder.check(calls) == []
    assert await finder.check(calls) == []


async def test_a_call_seen_again_between_checks_is_not_lost(client: aioredis.Redis) -> None:
    finder = LostCallFinder(client, 10_000)
    assert await finder.check(["late"]) == []
    await client.lpush(TOOL_QUEUE, message("late"))
    assert await finder.check(["late"]) == []
    await client.delete(TOOL_QUEUE)
    assert await finder.check(["late"]) == []  # missing once more: the count starts again


async def test_a_long_queue_is_read_in_chunks(client: aioredis.Redis) -> None:
    await client.lpush(TOOL_QUEUE, *[message(f"q-{i}") for i in range(2500)])
    finder = LostCallFinder(client, 10_000)
    calls = ["q-0", "q-1234", "q-2499", "absent"]
    assert await finder.check(calls) == []
    assert await finder.check(calls) == ["absent"]


async def test_no_check_while_the_backlog_is_larger_than_the_scan_limit(client: aioredis.Redis) -> None:
    """Past EXAI_LOST_CALL_SCAN_MAX messages nothing is read and nothing reported; below it, it is."""
    await client.lpush(TOOL_QUEUE, *[message(f"q-{i}") for i in range(30)])
    finder = LostCallFinder(client, 20)
    assert await finder.check(["absent"]) == []
    assert await finder.check(["absent"]) == []  # too many messages to read: no verdict
    await client.ltrim(TOOL_QUEUE, 0, 9)
    assert await finder.check(["absent"]) == []
    assert await finder.check(["absent"]) == ["absent"]
