"""A call's place in a conversation, in real Redis: its turns are reserved before any provider call."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from contracts.errors import InvalidArguments
from contracts.names import thread_reservations_key
from contracts.settings import Settings, load_settings
from tests.workers.redis_fixture import redis_client
from tests.workers.tool_context import CountingProvider, tool_context
from workers.threads import ThreadLimitReached, ThreadStore, Turn
from workers.tools import chat

__all__ = ["redis_client"]

MAX_TURNS = 4


@pytest.fixture
def settings() -> Settings:
    return load_settings(exai_thread_max_turns=MAX_TURNS, kimi_api_key="test-kimi-key-0123456789")


@pytest.fixture
def thread_id(redis_client: redis.Redis, settings: Settings) -> Iterator[str]:
    """alice's thread with room for one more call."""
    store = ThreadStore(redis_client, settings)
    first = [Turn("user", "q", "chat", call_id="c0"), Turn("assistant", "a", "chat", call_id="c0")]
    yield store.create("alice", "chat", first).id


def continuation(thread_id: str, prompt: str) -> dict[str, Any]:
    return {"prompt": prompt, "continuation_id": thread_id, "model": "kimi-k2.6"}


def test_two_continuations_racing_for_the_last_turns_make_one_provider_call(
    redis_client: redis.Redis, settings: Settings, thread_id: str
) -> None:
    """While the first is inside the provider, the second is refused at once; one answer is paid for."""
    hold = threading.Event()
    provider = CountingProvider(hold=hold)
    outcome: dict[str, Any] = {}

    def first() -> None:
        outcome["first"] = chat.run(
            tool_context(settings, provider, client=redis_client), continuation(thread_id, "one")
        )

    runner = threading.Thread(target=first, daemon=True)
    runner.start()
    assert provider.entered.wait(5), "the first call never reached the provider"
    try:
        with pytest.raises(ThreadLimitReached, match=f"reached its limit of {MAX_TURNS} turns"):
            chat.run(tool_context(settings, provider, client=redis_client), continuation(thread_id, "two"))
    finally:
        hold.set()
        runner.join(5)
    assert len(provider.calls) == 1
    assert outcome["first"]["continuation_offer"]["remaining_turns"] == 0
    assert redis_client.zcard(thread_reservations_key(thread_id)) == 0  # consumed by the append


def test_the_reservation_is_given_back_with_the_outcome_of_a_call_that_failed(
    redis_client: redis.Redis, settings: Settings, thread_id: str
) -> None:
    """A call that ends without recording its turns leaves the release for its outcome's round trip."""
    ctx = tool_context(settings, CountingProvider(), client=redis_client)
    with pytest.raises(InvalidArguments, match=r"images\[0\]"):
        chat.run(ctx, {**continuation(thread_id, "x"), "images": ["/no/such.png"]})
    assert redis_client.zcard(thread_reservations_key(thread_id)) == 1  # held until the outcome
    assert ctx.settle is not None
    ctx.settle.flush(redis_client)
    assert redis_client.zcard(thread_reservations_key(thread_id)) == 0
    other = tool_context(settings, CountingProvider(), client=redis_client)
    assert chat.run(other, continuation(thread_id, "y"))["continuation_offer"]["remaining_turns"] == 0
