"""Call claims and the reaper: a dead worker's calls go back to the queue, a live one's stay put."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
import redis

from contracts.job import Outcome
from contracts.names import TOOL_QUEUE, UNACKED_INDEX_KEY, UNACKED_KEY, cancel_key, claim_key, result_key
from tests.workers.redis_fixture import redis_client
from workers import outcomes
from workers.claims import Claims
from workers.reaper import Reaper

__all__ = ["redis_client"]


@pytest.fixture
def client(redis_client: redis.Redis) -> Iterator[redis.Redis]:
    redis_client.flushdb()
    yield redis_client


def deliver(client: redis.Redis, tag: str, call_id: str, at: float) -> None:
    """What kombu writes when it hands a message to a worker with late acks."""
    payload = {"headers": {"id": call_id, "task": "exai.tool.chat"}, "body": "e30="}
    client.hset(UNACKED_KEY, tag, json.dumps([payload, TOOL_QUEUE, TOOL_QUEUE]))
    client.zadd(UNACKED_INDEX_KEY, {tag: at})


def test_a_claimed_call_cannot_be_claimed_by_another_worker(client: redis.Redis) -> None:
    """The second delivery steps aside while the first worker holds the claim."""
    first, second = Claims(client, 15, owner="w1"), Claims(client, 15, owner="w2")
    assert first.begin("c1").claimed
    assert not second.begin("c1").claimed
    first.release("c1")
    assert second.begin("c1").claimed


def test_a_claim_parked_for_a_retry_can_be_taken_by_any_worker(client: redis.Redis) -> None:
    """A scheduled retry may land on another worker, which takes the claim over."""
    first, second = Claims(client, 15, owner="w1"), Claims(client, 15, owner="w2")
    first.begin("c2")
    first.park_for_retry("c2", 1.0)
    assert client.get(claim_key("c2")) == b"retry:w1"
    assert second.begin("c2").claimed


def test_the_reaper_requeues_an_old_unclaimed_message_only(client: redis.Redis) -> None:
    """Unclaimed and older than the claim ttl: requeued. Claimed, or just delivered: left alone."""
    Claims(client, 15, owner="alive").begin("running")
    old = time.time() - 60
    deliver(client, "t-dead", "orphan", old)
    deliver(client, "t-alive", "running", old)
    deliver(client, "t-new", "fresh", time.time())
    reaper = Reaper(client, claim_ttl_s=15, interval_s=1, owner="w1")
    assert reaper.run_once() == ["orphan"]
    queued = [json.loads(m) for m in client.lrange(TOOL_QUEUE, 0, -1)]
    assert [m["headers"]["id"] for m in queued] == ["orphan"]
    assert queued[0]["headers"]["redelivered"] is True
    assert client.hexists(UNACKED_KEY, "t-dead") is False
    assert client.hexists(UNACKED_KEY, "t-alive") and client.hexists(UNACKED_KEY, "t-new")


def test_only_one_reaper_runs_at_a_time(client: redis.Redis) -> None:
    """The short lock keeps two workers from requeueing the same message twice."""
    deliver(client, "t1", "orphan-1", time.time() - 60)
    Reaper(client, claim_ttl_s=15, interval_s=5, owner="w1").run_once()
    deliver(client, "t2", "orphan-2", time.time() - 60)
    assert Reaper(client, claim_ttl_s=15, interval_s=5, owner="w2").run_once() == []


def test_beginning_a_call_answers_finished_ones_and_reports_a_cancel(client: redis.Redis) -> None:
    """One round trip: a stored outcome wins, else the claim is taken and a cancel mark reported."""
    client.set(result_key("done"), '{"call_id": "done"}')
    first, second = Claims(client, 15, owner="w1"), Claims(client, 15, owner="w2")
    finished = first.begin("done")
    assert finished.stored == b'{"call_id": "done"}' and not finished.claimed
    assert not client.exists(claim_key("done"))
    client.set(cancel_key("stop"), "1")
    started = first.begin("stop")
    assert started.stored is None and started.cancelled and started.claimed and first.holds("stop")
    assert not second.begin("stop").claimed  # w1 runs it


def test_the_outcome_script_gives_the_claim_up_with_the_outcome(client: redis.Redis) -> None:
    claims = Claims(client, 15, owner="w1")
    assert claims.begin("c9").claimed
    outcome = Outcome(call_id="c9", text="ok")
    outcomes.store_and_publish(client, outcome, None, 60, claim_owner="w1")
    assert client.exists(result_key("c9")) and not client.exists(claim_key("c9"))
    Claims(client, 15, owner="w2").begin("c10")
    outcomes.store_and_publish(client, Outcome(call_id="c10", text="ok"), None, 60, claim_owner="w1")
    assert client.get(claim_key("c10")) == b"w2"  # never another worker's claim
