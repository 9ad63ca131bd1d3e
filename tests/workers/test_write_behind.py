"""Writes left for a later round trip: sent once, in order, and kept until Redis has them."""

from __future__ import annotations

import redis

from tests.workers.redis_fixture import redis_client
from workers.write_behind import WriteBehind

__all__ = ["redis_client"]


def test_writes_wait_until_flushed_and_go_in_order(redis_client: redis.Redis) -> None:
    redis_client.delete("wb:list")
    after = WriteBehind()
    after.add(lambda pipe: pipe.rpush("wb:list", "first"))
    after.add(lambda pipe: pipe.rpush("wb:list", "second"))
    assert redis_client.llen("wb:list") == 0
    after.flush(redis_client)
    assert redis_client.lrange("wb:list", 0, -1) == [b"first", b"second"]
    after.flush(redis_client)  # nothing left: nothing sent twice
    assert redis_client.llen("wb:list") == 2


def test_writes_queued_on_a_round_trip_that_failed_are_kept(redis_client: redis.Redis) -> None:
    redis_client.delete("wb:key")
    after = WriteBehind()
    after.add(lambda pipe: pipe.set("wb:key", "v"))
    with redis_client.pipeline(transaction=False) as pipe:
        assert after.queue_on(pipe) == 1  # queued, but the pipeline is dropped unsent
    after.flush(redis_client)
    assert redis_client.get("wb:key") == b"v"


def test_taken_writes_go_after_the_taker_s_own_and_leave_the_other_empty(redis_client: redis.Redis) -> None:
    """A call's settling writes join its outcome's round trip, once."""
    redis_client.delete("wb:taken")
    after, settle = WriteBehind(), WriteBehind()
    after.add(lambda pipe: pipe.rpush("wb:taken", "lease"))
    settle.add(lambda pipe: pipe.rpush("wb:taken", "release"))
    after.take(settle)
    after.flush(redis_client)
    settle.flush(redis_client)
    assert redis_client.lrange("wb:taken", 0, -1) == [b"lease", b"release"]
