"""The benchmark's call backend: replies resolve the right futures, held ones wait to be released."""

from __future__ import annotations

import asyncio

import pytest

from bench.fake_broker import ENVELOPE, FakeBroker, result_of

pytestmark = pytest.mark.anyio


async def test_a_submitted_call_gets_its_reply_from_the_event_loop() -> None:
    """The future of a call resolves on a later turn of the loop with the envelope as the outcome."""
    broker = FakeBroker()
    job = broker.new_job("chat", {"prompt": "hi"}, client="bench", correlation_id=None)
    pending = await broker.submit(job, None)
    assert not pending.future.done()  # not in the same turn: the reply travels, as over Redis
    outcome = await asyncio.wait_for(pending.future, 5)
    assert outcome.call_id == job.call_id
    assert outcome.structured == ENVELOPE
    assert broker.pending == {}


async def test_held_calls_wait_until_released_and_are_counted_as_parked() -> None:
    """In hold mode no reply comes until release_all, and the parked event fires at the count."""
    broker = FakeBroker(hold=True)
    parked = broker.parked(3)
    pendings = []
    for _ in range(3):
        job = broker.new_job("chat", {"prompt": "hi"}, client="bench", correlation_id=None)
        pendings.append(await broker.submit(job, None))
    await asyncio.wait_for(parked.wait(), 5)
    await asyncio.sleep(0)
    assert not any(p.future.done() for p in pendings)
    broker.release_all()
    assert [p.future.result().call_id for p in pendings] == [p.job.call_id for p in pendings]


async def test_the_result_of_an_outcome_is_what_a_plain_call_answers() -> None:
    """result_of carries the text, structuredContent and the call's ids, as Session._run_call does."""
    broker = FakeBroker()
    job = broker.new_job("chat", {"prompt": "hi"}, client="bench", correlation_id="corr-1")
    pending = await broker.submit(job, None)
    result = result_of(await pending.future, job)
    assert result["isError"] is False
    assert result["structuredContent"] == ENVELOPE
    assert result["_meta"] == {"io.exai/correlation_id": "corr-1", "io.exai/call_id": job.call_id}
