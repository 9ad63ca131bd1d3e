"""Call claims: a call runs on one live worker at a time; a dead worker's claims are taken over."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from contracts.job import Outcome
from contracts.names import CONSUMERS_KEY, cancel_key, claim_key, result_key
from contracts.transport import Consumers
from tests.workers.redis_fixture import redis_client
from workers import outcomes
from workers.claims import Claims

__all__ = ["redis_client"]


@pytest.fixture
def client(redis_client: redis.Redis) -> Iterator[redis.Redis]:
    redis_client.flushdb()
    yield redis_client


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


def test_a_claim_of_a_worker_whose_heartbeat_lapsed_is_taken_over_at_once(client: redis.Redis) -> None:
    """The transport's heartbeat decides: a live holder keeps its claim, a lapsed one loses it."""
    now = [1000.0]
    consumers = Consumers(client, 3, remember_s=30, clock=lambda: now[0])
    consumers.beat("w1")
    assert Claims(client, 15, owner="w1", clock=lambda: now[0]).begin("c3").claimed
    second = Claims(client, 15, owner="w2", clock=lambda: now[0])
    now[0] += 2.9
    assert not second.begin("c3").claimed  # w1 beat 2.9 s ago: alive
    now[0] += 0.2
    assert second.begin("c3").claimed  # 3.1 s: its heartbeat lapsed
    assert client.get(claim_key("c3")) == b"w2"


def test_a_claim_of_a_recovered_worker_is_free_and_of_an_unknown_one_waits_for_its_ttl(
    client: redis.Redis,
) -> None:
    """Recovery remembers the consumers it handed back; a holder never seen keeps its claim."""
    now = [1000.0]
    consumers = Consumers(client, 3, remember_s=30, clock=lambda: now[0])
    consumers.beat("gone")
    Claims(client, 15, owner="gone").begin("c4")
    Claims(client, 15, owner="stranger").begin("c5")
    now[0] += 10
    assert consumers.recover() == (1, 0)
    assert client.zscore(CONSUMERS_KEY, "gone") is None
    second = Claims(client, 15, owner="w2", clock=lambda: now[0])
    assert second.begin("c4").claimed
    assert not second.begin("c5").claimed


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
