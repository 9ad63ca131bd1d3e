"""Calls that wait in the queue: cancelled before they start, expired, and delivered twice."""

from __future__ import annotations

import time
from collections.abc import Iterator

import anyio
import pytest
import redis

from contracts.job import Job, Outcome
from contracts.names import (
    CONSUMER_QUEUES_PREFIX,
    CONSUMERS_KEY,
    TOOL_QUEUE,
    inflight_key,
    result_key,
    task_name,
)
from contracts.queue import make_celery
from contracts.settings import Settings
from tests.support.clients import raw_client
from tests.support.stack import Stack, running_stack

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A worker that holds one call at a time, so a second call waits in the queue."""
    with running_stack(tmp_path_factory.mktemp("queue"), EXAI_WORKER_CONCURRENCY="1") as running:
        yield running


def _outcome(stack: Stack, call_id: str) -> Outcome | None:
    raw = redis.Redis.from_url(stack.env["REDIS_URL"]).get(result_key(call_id))
    return None if raw is None else Outcome.model_validate_json(raw)


async def test_a_call_cancelled_while_queued_never_reaches_the_provider(stack: Stack) -> None:
    """The queued call is skipped when the worker picks it up; the provider never sees it."""
    async with raw_client(stack.authed_url) as client:
        await client.initialize()
        await client.send(
            {
                "jsonrpc": "2.0",
                "id": "busy",
                "method": "tools/call",
                "params": {
                    "name": "chat",
                    "arguments": {"prompt": "occupy emulate:latency_ms=1500"},
                    "_meta": {"progressToken": "b"},
                },
            }
        )
        with anyio.fail_after(30):  # the only worker slot is taken once the busy call reports progress
            while (await client.receive()).get("params", {}).get("progressToken") != "b":
                pass
        await client.send(
            {
                "jsonrpc": "2.0",
                "id": "queued",
                "method": "tools/call",
                "params": {
                    "name": "chat",
                    "arguments": {"prompt": "never run"},
                    "_meta": {"progressToken": "q", "io.exai/correlation_id": "queued-call-1"},
                },
            }
        )
        store = redis.Redis.from_url(stack.env["REDIS_URL"])
        with anyio.fail_after(10):
            while store.llen(TOOL_QUEUE) < 1:  # in the queue, behind the busy call
                await anyio.sleep(0.02)
        await client.send(
            {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "queued"}}
        )
        busy = await client.response("busy")
        assert busy["result"]["isError"] is False
        pong = await client.request("p", "ping")
        assert pong["result"] == {}
        with anyio.fail_after(10):
            while store.llen(TOOL_QUEUE) > 0 or "Discarding revoked task" not in stack.workers[0].text():
                await anyio.sleep(0.05)  # the worker dequeues the revoked call and drops it
        stats = stack.emulator_stats()
        assert all(m.get("id") != "queued" for m in client.backlog)
    assert "queued-call-1" not in stats["by_request_id"]


def test_a_redelivered_job_is_answered_from_its_stored_outcome(stack: Stack) -> None:
    """Delivering the same job twice calls the provider once; both runs report the same outcome."""
    settings = Settings(redis_url=stack.env["REDIS_URL"])
    app = make_celery(settings)
    client = redis.Redis.from_url(stack.env["REDIS_URL"])
    job = Job(
        call_id="dup-0001",
        tool="chat",
        arguments={"prompt": "only once"},
        reply_to=None,
        deadline=time.time() + 60,
        correlation_id="dup-corr-0001",
    )
    for _ in range(2):
        app.send_task(
            task_name("chat"),
            kwargs={"job": job.model_dump(mode="json")},
            task_id=job.call_id,
            queue=TOOL_QUEUE,
        )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        log = "".join(w.text() for w in stack.workers)
        if "already finished; answering from the stored outcome" in log and client.exists(
            result_key(job.call_id)
        ):
            break
        time.sleep(0.1)
    outcome = _outcome(stack, job.call_id)
    assert outcome is not None and outcome.is_error is False
    assert "only once" in outcome.text
    assert stack.emulator_stats()["by_request_id"].get("dup-corr-0001") == 1


def test_a_job_that_waited_past_its_deadline_fails_without_calling_the_provider(stack: Stack) -> None:
    """A call whose deadline passed in the queue gets a TIMEOUT outcome telling to add workers."""
    app = make_celery(Settings(redis_url=stack.env["REDIS_URL"]))
    job = Job(
        call_id="late-0001",
        tool="chat",
        arguments={"prompt": "too late"},
        reply_to=None,
        deadline=time.time() - 1,
        correlation_id="late-corr-0001",
    )
    app.send_task(
        task_name("chat"), kwargs={"job": job.model_dump(mode="json")}, task_id=job.call_id, queue=TOOL_QUEUE
    )
    deadline = time.monotonic() + 20
    outcome = None
    while outcome is None and time.monotonic() < deadline:
        outcome = _outcome(stack, job.call_id)
        time.sleep(0.05)
    assert outcome is not None and outcome.error_code == "TIMEOUT"
    assert "add workers" in outcome.text
    assert "late-corr-0001" not in stack.emulator_stats()["by_request_id"]


async def test_a_call_left_in_a_dead_consumers_in_flight_list_runs_on_a_live_worker(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A worker took the message and died before running it: the next worker's recovery hands it on."""
    with running_stack(tmp_path_factory.mktemp("orphan"), workers=0) as lonely:
        store = redis.Redis.from_url(lonely.env["REDIS_URL"])
        async with raw_client(lonely.authed_url) as client:
            await client.initialize()
            params = {
                "name": "chat",
                "arguments": {"prompt": "orphaned once"},
                "_meta": {"io.exai/correlation_id": "orphan-1"},
            }
            await client.send({"jsonrpc": "2.0", "id": "orphan", "method": "tools/call", "params": params})
            with anyio.fail_after(20):
                while not store.llen(TOOL_QUEUE):
                    await anyio.sleep(0.05)
            # What a worker killed right after its BLMOVE leaves behind: the message in its list.
            assert store.lmove(TOOL_QUEUE, inflight_key("dead:1", TOOL_QUEUE), "RIGHT", "LEFT")
            store.sadd(CONSUMER_QUEUES_PREFIX + "dead:1", TOOL_QUEUE)
            store.zadd(CONSUMERS_KEY, {"dead:1": int(time.time() * 1000) - 1})
            lonely.start_worker()
            answer = await client.response("orphan", timeout=30)
        assert answer["result"]["isError"] is False, answer
        assert store.llen(inflight_key("dead:1", TOOL_QUEUE)) == 0
        assert lonely.emulator_stats()["by_request_id"].get("orphan-1") == 1
