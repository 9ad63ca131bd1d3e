"""A deferred call's bookkeeping: whoever completes the set of sub-tasks continues the parent once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from contracts.job import Job
from contracts.names import claim_key, consult_waiting_key
from tests.workers.redis_fixture import redis_client
from workers.deferral import defer, sub_task_finished

__all__ = ["redis_client"]


@pytest.fixture
def client(redis_client: redis.Redis) -> Iterator[redis.Redis]:
    redis_client.flushdb()
    yield redis_client


def parent(call_id: str) -> Job:
    return Job(call_id=call_id, tool="consensus", deadline=9e9, correlation_id=call_id)


def test_the_last_sub_task_continues_a_parent_that_deferred(client: redis.Redis) -> None:
    """Parent defers first: its claim goes, and only the sub-task completing the set continues it."""
    client.set(claim_key("p1"), "w1")
    assert defer(client, parent("p1"), "w1", 2, 60) is False
    assert not client.exists(claim_key("p1")) and client.exists(consult_waiting_key("p1"))
    assert sub_task_finished(client, "p1", "p1:0", 2, 60) == (1, False)
    assert sub_task_finished(client, "p1", "p1:1", 2, 60) == (2, True)
    assert sub_task_finished(client, "p1", "p1:1", 2, 60) == (2, True)  # a redelivered copy: harmless


def test_sub_tasks_that_finish_before_the_parent_defers_leave_the_continuation_to_it(
    client: redis.Redis,
) -> None:
    """Set complete before the parent deferred: no sub-task continues it, the parent's defer says so."""
    assert sub_task_finished(client, "p2", "p2:0", 2, 60) == (1, False)
    assert sub_task_finished(client, "p2", "p2:1", 2, 60) == (2, False)
    assert defer(client, parent("p2"), "w1", 2, 60) is True


def test_defer_leaves_another_workers_claim_alone(client: redis.Redis) -> None:
    """A continuation already running elsewhere keeps its claim."""
    client.set(claim_key("p3"), "w2")
    defer(client, parent("p3"), "w1", 2, 60)
    assert client.get(claim_key("p3")) == b"w2"
