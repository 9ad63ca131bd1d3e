"""Task records in Redis: written with the call, read back with the call's outcomes and answers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis
import redis.asyncio as aioredis

from contracts.job import Outcome
from contracts.names import input_key, result_key
from gateway.core.task_views import TaskRecord
from gateway.task_store import RedisTaskStore, write_record
from tests.gateway.redis_fixture import redis_port

pytestmark = pytest.mark.anyio
__all__ = ["redis_port"]


@pytest.fixture
async def store(redis_port: int) -> AsyncIterator[tuple[RedisTaskStore, redis.Redis]]:
    client = aioredis.Redis(port=redis_port)
    sync = redis.Redis(port=redis_port)
    await client.flushdb()
    yield RedisTaskStore(client, 3600), sync
    await client.aclose()
    sync.close()


def record(task_id: str, owner: str = "alice", created: float = 1.0, round: int = 0) -> TaskRecord:
    return TaskRecord(task_id, owner, "slow", "corr", created, 60000, 2_000_000_000.0, round=round)


def write(sync: redis.Redis, *records: TaskRecord) -> None:
    with sync.pipeline(transaction=False) as pipe:
        for rec in records:
            write_record(pipe, rec, 3600, 2.0)
        pipe.execute()


async def test_a_written_record_reads_back_with_its_outcome_and_current_round(
    store: tuple[RedisTaskStore, redis.Redis],
) -> None:
    """The record, the terminal outcome and the interim outcome of the record's round."""
    tasks, sync = store
    write(sync, record("t1", round=1))
    interim = Outcome(
        call_id="t1",
        text="?",
        kind="input_required",
        input_requests={"a": {"method": "roots/list", "params": {}}},
    )
    sync.set(input_key("t1", 1), interim.model_dump_json())
    state = await tasks.state("t1")
    assert state is not None and state.record == record("t1", round=1)
    assert state.outcome is None and state.interim == interim and state.answered == frozenset()
    sync.set(result_key("t1"), Outcome(call_id="t1", text="done").model_dump_json())
    done = await tasks.state("t1")
    assert done is not None and done.outcome is not None and done.outcome.text == "done"
    assert await tasks.state("nope") is None


async def test_an_owners_tasks_page_newest_first(store: tuple[RedisTaskStore, redis.Redis]) -> None:
    """Each owner sees only their own, newest first, with whether more follow."""
    tasks, sync = store
    write(sync, record("a1", created=1.0), record("a2", created=2.0), record("b1", "bob", 3.0))
    page, more = await tasks.page("alice", 0, 1)
    assert [s.record.task_id for s in page] == ["a2"] and more
    page, more = await tasks.page("alice", 1, 1)
    assert [s.record.task_id for s in page] == ["a1"] and not more


async def test_the_last_answer_of_a_round_is_returned_once_with_every_answer(
    store: tuple[RedisTaskStore, redis.Redis],
) -> None:
    """Partial answers are kept; the one completing the round gets all of them; a racing second
    completion gets nothing (the round is sent once); unknown keys are never kept."""
    tasks, sync = store
    write(sync, record("t2"))
    requests = {"a": {"method": "roots/list", "params": {}}, "b": {"method": "roots/list", "params": {}}}
    sync.set(
        input_key("t2", 0),
        Outcome(call_id="t2", text="?", kind="input_required", input_requests=requests).model_dump_json(),
    )
    state = await tasks.state("t2")
    assert state is not None
    assert await tasks.answer(state, {"a": {"roots": []}, "zzz": {"x": 1}}) is None
    after = await tasks.state("t2")
    assert after is not None and after.answered == frozenset({"a"})
    assert await tasks.answer(after, {"b": {"roots": [1]}}) == {"a": {"roots": []}, "b": {"roots": [1]}}
    assert await tasks.answer(after, {"b": {"roots": [2]}}) is None


async def test_expiring_keeps_an_outcome_already_there(store: tuple[RedisTaskStore, redis.Redis]) -> None:
    """A timeout is stored only if the call has no outcome; the stored one is returned."""
    tasks, sync = store
    write(sync, record("t3"), record("t4"))
    sync.set(result_key("t4"), Outcome(call_id="t4", text="finished").model_dump_json())
    timeout = Outcome(call_id="t3", text="late", is_error=True, error_code="TIMEOUT")
    assert (await tasks.expire(record("t3"), timeout)).error_code == "TIMEOUT"
    kept = await tasks.expire(record("t4"), timeout.model_copy(update={"call_id": "t4"}))
    assert kept.text == "finished"
