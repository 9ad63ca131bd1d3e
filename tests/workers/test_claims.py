"""Call claims: a call runs on one live worker at a time; a dead worker's claims are taken over."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from contracts.job import Outcome
from contracts.names import (
    CONSUMERS_KEY,
    cancel_key,
    claim_key,
    handover_key,
    result_key,
)
from contracts.transport import Consumers
from tests.workers.redis_fixture import redis_client
from workers import outcomes
from workers.claims import Claims, worker_identity

__all__ = ["redis_client"]

KEEP_S = 60  # how long a call's handover count is kept (its outcome's ttl in the runner)


@pytest.fixture
def client(redis_client: redis.Redis) -> Iterator[redis.Redis]:
    redis_client.flushdb()
    yield redis_client


def test_a_claimed_call_cannot_be_claimed_by_another_worker(client: redis.Redis) -> None:
    """The second delivery steps aside while the first worker holds the claim."""
    first, second = Claims(client, 15, owner="w1"), Claims(client, 15, owner="w2")
    assert first.begin("c1", KEEP_S).claimed
    assert not second.begin("c1", KEEP_S).claimed
    first.release("c1")
    assert second.begin("c1", KEEP_S).claimed


def test_a_claim_parked_for_a_retry_can_be_taken_by_any_worker(client: redis.Redis) -> None:
    """A scheduled retry may land on another worker, which takes the claim over."""
    first, second = Claims(client, 15, owner="w1"), Claims(client, 15, owner="w2")
    first.begin("c2", KEEP_S)
    first.park_for_retry("c2", 1.0)
    assert client.get(claim_key("c2")) == b"retry:w1"
    assert second.begin("c2", KEEP_S).claimed


def test_a_claim_of_a_worker_whose_heartbeat_lapsed_is_taken_over_at_once(client: redis.Redis) -> None:
    """The transport's heartbeat decides: a live holder keeps its claim, a lapsed one loses it, and
    the takeover counts as a handover."""
    now = [1000.0]
    consumers = Consumers(client, 3, remember_s=30, clock=lambda: now[0])
    consumers.beat("w1")
    assert Claims(client, 15, owner="w1", clock=lambda: now[0]).begin("c3", KEEP_S).claimed
    second = Claims(client, 15, owner="w2", clock=lambda: now[0])
    now[0] += 2.9
    assert not second.begin("c3", KEEP_S).claimed  # w1 beat 2.9 s ago: alive
    now[0] += 0.2
    taken = second.begin("c3", KEEP_S)  # 3.1 s: its heartbeat lapsed
    assert taken.claimed and taken.handovers == 1
    assert client.get(claim_key("c3")) == b"w2"


def test_a_claim_of_a_recovered_worker_is_free_and_of_an_unknown_one_waits_for_its_ttl(
    client: redis.Redis,
) -> None:
    """Recovery remembers the consumers it handed back; a holder never seen keeps its claim."""
    now = [1000.0]
    consumers = Consumers(client, 3, remember_s=30, clock=lambda: now[0])
    consumers.beat("gone")
    Claims(client, 15, owner="gone").begin("c4", KEEP_S)
    Claims(client, 15, owner="stranger").begin("c5", KEEP_S)
    now[0] += 10
    assert consumers.recover() == (1, 0)
    assert client.zscore(CONSUMERS_KEY, "gone") is None
    second = Claims(client, 15, owner="w2", clock=lambda: now[0])
    assert second.begin("c4", KEEP_S).claimed
    assert not second.begin("c5", KEEP_S).claimed


def test_beginning_a_call_answers_finished_ones_and_reports_a_cancel(client: redis.Redis) -> None:
    """One round trip: a stored outcome wins, else the claim is taken and a cancel mark reported."""
    client.set(result_key("done"), '{"call_id": "done"}')
    first, second = Claims(client, 15, owner="w1"), Claims(client, 15, owner="w2")
    finished = first.begin("done", KEEP_S)
    assert finished.stored == b'{"call_id": "done"}' and not finished.claimed
    assert not client.exists(claim_key("done"))
    client.set(cancel_key("stop"), "1")
    started = first.begin("stop", KEEP_S)
    assert started.stored is None and started.cancelled and started.claimed and first.holds("stop")
    assert not second.begin("stop", KEEP_S).claimed  # w1 runs it


def test_the_outcome_script_gives_the_claim_up_with_the_outcome(client: redis.Redis) -> None:
    claims = Claims(client, 15, owner="w1")
    assert claims.begin("c9", KEEP_S).claimed
    outcome = Outcome(call_id="c9", text="ok")
    outcomes.store_and_publish(client, outcome, None, 60, claim_owner="w1")
    assert client.exists(result_key("c9")) and not client.exists(claim_key("c9"))
    Claims(client, 15, owner="w2").begin("c10", KEEP_S)
    outcomes.store_and_publish(client, Outcome(call_id="c10", text="ok"), None, 60, claim_owner="w1")
    assert client.get(claim_key("c10")) == b"w2"  # never another worker's claim


def lapse(client: redis.Redis, call_id: str) -> None:
    """What a dead worker's claim does after EXAI_CLAIM_TTL_S."""
    client.delete(claim_key(call_id))


def test_taking_over_a_lapsed_claim_counts_one_handover_each_time(client: redis.Redis) -> None:
    """w1 dies running the call, then w2: the third worker sees two handovers, kept for the outcome's ttl."""
    workers = [Claims(client, 15, owner=f"w{n}") for n in (1, 2, 3)]
    assert workers[0].begin("poison", KEEP_S).handovers == 0
    lapse(client, "poison")
    assert workers[1].begin("poison", KEEP_S).handovers == 1
    lapse(client, "poison")
    third = workers[2].begin("poison", KEEP_S)
    assert third.claimed and third.handovers == 2
    assert client.hgetall(handover_key("poison")) == {b"runner": b"w3", b"handovers": b"2"}
    assert 0 < client.ttl(handover_key("poison")) <= KEEP_S


def test_a_second_delivery_while_the_runner_lives_is_not_a_handover(client: redis.Redis) -> None:
    """The live claim turns the duplicate away and leaves the count alone."""
    first, second = Claims(client, 15, owner="w1"), Claims(client, 15, owner="w2")
    first.begin("busy", KEEP_S)
    duplicate = second.begin("busy", KEEP_S)
    assert not duplicate.claimed and duplicate.handovers == 0
    first.release("busy")
    assert client.hget(handover_key("busy"), "handovers") is None


def test_a_scheduled_retry_taken_by_another_worker_is_not_a_handover(client: redis.Redis) -> None:
    """A parked call has no runner: taking it, even after the parked claim lapsed, counts nothing."""
    first, second, third = (Claims(client, 15, owner=f"w{n}") for n in (1, 2, 3))
    first.begin("flaky", KEEP_S)
    first.park_for_retry("flaky", 0.1)
    assert second.begin("flaky", KEEP_S).handovers == 0  # the parked claim is still there
    second.park_for_retry("flaky", 0.1)
    lapse(client, "flaky")  # the retry waited longer than its parked claim
    assert third.begin("flaky", KEEP_S).handovers == 0


def test_a_worker_taking_its_own_claim_again_is_not_a_handover(client: redis.Redis) -> None:
    """After a Redis blip the same worker begins the call again, with or without its old claim."""
    worker = Claims(client, 15, owner="w1")
    worker.begin("blip", KEEP_S)
    assert worker.begin("blip", KEEP_S).handovers == 0
    lapse(client, "blip")
    assert worker.begin("blip", KEEP_S).handovers == 0


def test_two_runs_of_one_host_and_pid_have_different_identities() -> None:
    """A container restarted as pid 1 on the same host is another runner, so its crash counts."""
    assert worker_identity() != worker_identity()


def test_storing_the_outcome_drops_the_handover_count(client: redis.Redis) -> None:
    """Once a call has an outcome its count is not needed: Redis holds counts of calls in flight only."""
    Claims(client, 15, owner="w1").begin("finished", KEEP_S)
    assert client.exists(handover_key("finished"))
    outcomes.store_and_publish(client, Outcome(call_id="finished", text="ok"), None, 60, claim_owner="w1")
    assert not client.exists(handover_key("finished"))
