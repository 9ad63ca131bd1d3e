"""Requests that wait: one answer each, an error for a handler that raises, caps that never leak."""

from __future__ import annotations

import asyncio
import logging

import pytest

from gateway.inflight import InFlight, Reply
from gateway.limits import ClientLimits, LimitExceeded

pytestmark = pytest.mark.anyio


def make(max_session_pending: int = 10) -> tuple[InFlight, list[str]]:
    limits = ClientLimits(
        max_in_flight=10, calls_per_minute=1000, max_pending=100, max_session_pending=max_session_pending
    )
    return InFlight(limits, "alice", lambda reply: f"internal error for {reply.key}"), []


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_handler_that_raises_gets_exactly_one_internal_error_answer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The exception is logged with its traceback and answered once; the cap's place is given back."""
    calls, sent = make()

    async def broken(reply: Reply) -> None:
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="gateway.inflight"):
        calls.spawn(Reply(sent.append, "tasks/get", 1), broken, calls.admit())
        await settle()
    assert sent == ["internal error for 1"]
    assert "boom" in caplog.text and "Traceback" in caplog.text
    assert len(calls) == 0 and calls.limits.pending == {}


async def test_a_second_answer_and_a_missing_answer_are_both_handled() -> None:
    """A handler answering twice sends one frame; one that forgets gets the error answer."""
    calls, sent = make()

    async def twice(reply: Reply) -> None:
        reply("first")
        reply("second")

    async def silent(reply: Reply) -> None:
        return None

    calls.spawn(Reply(sent.append, "m", "a"), twice, calls.admit())
    calls.spawn(Reply(sent.append, "m", "b"), silent, calls.admit())
    await settle()
    assert sent == ["first", "internal error for b"]


async def test_a_request_cancelled_before_it_ever_ran_frees_its_place_and_sends_nothing() -> None:
    """Cancelling (the client's cancel, or its leaving) answers nothing and releases the cap."""
    calls, sent = make(max_session_pending=1)
    started = asyncio.Event()

    async def wait_forever(reply: Reply) -> None:
        started.set()
        await asyncio.Event().wait()

    calls.spawn(Reply(sent.append, "tasks/result", 1), wait_forever, calls.admit())
    with pytest.raises(LimitExceeded):
        calls.admit()
    assert calls.cancel(1) == (True, None)  # before its first step
    await settle()
    assert not started.is_set() and sent == [] and calls.limits.pending == {}
    calls.spawn(Reply(sent.append, "tools/call", 2), wait_forever, calls.admit(), "call-2")
    await settle()
    assert calls.cancel_all() == ["call-2"]
    await settle()
    assert sent == [] and len(calls) == 0 and calls.limits.pending == {}
