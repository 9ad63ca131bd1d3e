"""Enqueueing: the record is written before the job is sent, off the loop; cancelling is first-wins."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from celery.signals import after_task_publish

from contracts.job import Outcome
from contracts.names import cancel_key, result_key, task_key
from contracts.queue import make_celery
from contracts.settings import Settings
from gateway.calls.enqueue import Enqueuer
from gateway.core.inflight import InFlight
from gateway.core.ports import QueueUnavailable
from gateway.core.task_views import TaskRecord
from gateway.limits import ClientLimits
from tests.gateway.redis_fixture import redis_port

pytestmark = pytest.mark.anyio
__all__ = ["redis_port"]


@pytest.fixture
async def enqueuer(redis_port: int) -> AsyncIterator[Enqueuer]:
    settings = Settings(redis_url=f"redis://127.0.0.1:{redis_port}/0")
    client = aioredis.Redis(port=redis_port)
    await client.flushdb()
    sync = redis.Redis(port=redis_port)
    made = Enqueuer(settings, make_celery(settings), client, sync, InFlight(), "exai:reply:test")
    yield made
    await made.close()
    await client.aclose()
    sync.close()


def record_of(job: Any) -> TaskRecord:
    return TaskRecord(
        job.call_id,
        "alice",
        job.tool,
        job.correlation_id,
        job.created_at,
        60000,
        job.deadline,
        round=job.round,
    )


async def submitted(enqueuer: Enqueuer, job: Any) -> BaseException | None:
    done: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()
    enqueuer.submit(job, record_of(job), {"exai_correlation_id": job.correlation_id}, done.set_result)
    return await asyncio.wait_for(done, 10)


async def test_the_record_is_written_then_the_job_sent_and_later_rounds_have_their_own_task_id(
    enqueuer: Enqueuer,
) -> None:
    """done(None) once both happened; the record has its ttl; round 1 is task <id>.1."""
    sent: list[str] = []

    def published(headers: dict[str, Any] | None = None, **_: Any) -> None:
        sent.append(str((headers or {}).get("id")))

    after_task_publish.connect(published, weak=False)
    try:
        job = enqueuer.new_job(
            "version", {}, client="alice", correlation_id=None, capabilities={}, progress=False, log=False
        )
        assert await submitted(enqueuer, job) is None
        following = enqueuer.new_job(
            "version",
            {},
            client="alice",
            correlation_id=None,
            capabilities={},
            progress=False,
            log=False,
            call_id=job.call_id,
            round=1,
        )
        assert await submitted(enqueuer, following) is None
    finally:
        after_task_publish.disconnect(published)
    assert sent == [job.call_id, f"{job.call_id}.1"]
    assert 0 < await enqueuer.redis.pttl(task_key(job.call_id)) <= 60000
    assert job.reply_to == "exai:reply:test" and job.deadline > job.created_at


async def test_redis_being_down_is_queue_unavailable(redis_port: int) -> None:
    """Nothing listens on the port: the callback gets QueueUnavailable, not a random exception."""
    settings = Settings(redis_url="redis://127.0.0.1:1/0", exai_redis_pool_timeout_s=1)
    dead = redis.Redis(port=1, socket_connect_timeout=0.5)
    made = Enqueuer(settings, make_celery(settings), aioredis.Redis(port=1), dead, InFlight(), "r")
    try:
        job = made.new_job(
            "version", {}, client="a", correlation_id=None, capabilities={}, progress=False, log=False
        )
        assert isinstance(await submitted(made, job), QueueUnavailable)
    finally:
        made._executor.shutdown(wait=False, cancel_futures=True)


async def test_cancelling_stores_a_cancelled_outcome_first_wins_and_ends_the_call(enqueuer: Enqueuer) -> None:
    """CANCELLED stored (a worker will skip the call), the cancel key set, the call's waiters
    answered and its slot freed; a call that already finished keeps its outcome."""
    limits = ClientLimits(max_in_flight=5, calls_per_minute=60)
    job = enqueuer.new_job(
        "version", {}, client="alice", correlation_id="corr", capabilities={}, progress=False, log=False
    )
    enqueuer.inflight.start(job, limits.acquire("alice"))
    stored = await enqueuer.cancel(job.call_id)
    assert (
        stored is not None and stored.error_code == "CANCELLED" and stored.meta == {"correlation_id": "corr"}
    )
    assert await enqueuer.redis.get(cancel_key(job.call_id)) == b"1"
    assert limits.in_flight == {} and job.call_id not in enqueuer.inflight
    await enqueuer.redis.set(result_key("done"), Outcome(call_id="done", text="finished").model_dump_json())
    kept = await enqueuer.cancel("done")
    assert kept is not None and kept.text == "finished"
