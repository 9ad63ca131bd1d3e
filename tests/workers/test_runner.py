"""The runner against real Redis: a call that stopped too many workers is answered, not run again."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any, cast

import pytest
import redis
from celery import Task

from contracts.errors import ProviderError
from contracts.job import Job
from contracts.names import claim_key, handover_key, thread_reservations_key
from contracts.settings import load_settings
from tests.workers.redis_fixture import redis_client
from tests.workers.tool_context import CountingProvider
from workers import outcomes
from workers.cancel_listener import CancelListener
from workers.claims import Claims
from workers.context import ToolContext
from workers.runner import Runner
from workers.threads import ThreadStore, Turn
from workers.tools import chat

__all__ = ["redis_client"]


@pytest.fixture
def client(redis_client: redis.Redis) -> Iterator[redis.Redis]:
    redis_client.flushdb()
    yield redis_client


class CountingTool:
    def __init__(self) -> None:
        self.runs = 0

    def __call__(self, ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
        self.runs += 1
        return {"status": "success", "content": "done", "content_type": "text", "metadata": {}}


SETTINGS = load_settings(
    exai_call_max_handovers=2, exai_thread_max_turns=4, kimi_api_key="test-kimi-key-0123456789"
)


def runner_for(client: redis.Redis, provider: CountingProvider | None = None) -> Runner:
    def providers(name: str) -> Any:
        if provider is None:
            pytest.fail(f"no provider expected, asked for {name}")
        return provider

    return Runner(SETTINGS, client, CancelListener(client), providers, Claims(client, 15, owner="w-now"))


def job(call_id: str, **arguments: Any) -> dict[str, Any]:
    return Job(
        call_id=call_id,
        tool="chat",
        arguments=arguments,
        deadline=time.time() + 60,
        client="alice",
        correlation_id=f"corr-{call_id}",
    ).model_dump()


class RetryScheduled(Exception):
    """What Celery's Task.retry raises, standing in for it."""


TASK = cast(
    Task,
    SimpleNamespace(request=SimpleNamespace(retries=0), retry=lambda **_: RetryScheduled()),
)


def stopped_workers(client: redis.Redis, call_id: str, count: int) -> None:
    """What ``count`` workers that each died running the call leave behind: the last one as runner,
    its claim lapsed."""
    client.hset(handover_key(call_id), mapping={"runner": "w-dead", "handovers": count - 1})


def test_a_call_taken_over_past_the_limit_is_set_aside_without_running(
    client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """Three workers stopped with max 2 handovers: SET_ASIDE naming the count and correlation id, at ERROR."""
    stopped_workers(client, "poison", 3)
    tool = CountingTool()
    with caplog.at_level(logging.ERROR, logger="workers.runner"):
        assert runner_for(client).run(TASK, job("poison"), tool) == "set_aside"
    outcome = outcomes.load(client, "poison")
    assert tool.runs == 0
    assert outcome is not None and outcome.is_error and outcome.error_code == "SET_ASIDE"
    assert "set aside after stopping 3 workers" in outcome.text and "corr-poison" in outcome.text
    assert outcome.structured is not None and outcome.structured["metadata"]["handovers"] == 3
    assert not client.exists(claim_key("poison"))
    assert any("set aside" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)


def test_a_call_at_the_limit_still_runs(client: redis.Redis) -> None:
    """Two workers stopped, two handovers allowed: the third worker runs it and answers normally."""
    stopped_workers(client, "unlucky", 2)
    tool = CountingTool()
    assert runner_for(client).run(TASK, job("unlucky"), tool) == "ok"
    outcome = outcomes.load(client, "unlucky")
    assert tool.runs == 1 and outcome is not None and not outcome.is_error


def thread_with_room_for_one_call(client: redis.Redis) -> str:
    first = [Turn("user", "q", "chat", call_id="c0"), Turn("assistant", "a", "chat", call_id="c0")]
    return ThreadStore(client, SETTINGS).create("alice", "chat", first).id


def test_a_failed_continuation_gives_its_reserved_turns_back_with_its_outcome(client: redis.Redis) -> None:
    """The provider refuses for good: the error outcome is stored and the thread's last turns are free."""
    thread = thread_with_room_for_one_call(client)
    refused = ProviderError("bad key", provider="kimi", kind="auth")
    provider = CountingProvider(error=refused)
    args = {"prompt": "x", "continuation_id": thread, "model": "kimi-k2.6"}
    assert runner_for(client, provider).run(TASK, job("refused", **args), chat.run) == "error"
    assert len(provider.calls) == 1
    assert client.zcard(thread_reservations_key(thread)) == 0


def test_a_continuation_waiting_for_a_retry_keeps_its_reserved_turns(client: redis.Redis) -> None:
    """A transient error schedules a retry; nobody else can take the turns the call will record."""
    thread = thread_with_room_for_one_call(client)
    busy = ProviderError("busy", provider="kimi", kind="overloaded")
    args = {"prompt": "x", "continuation_id": thread, "model": "kimi-k2.6"}
    with pytest.raises(RetryScheduled):
        runner_for(client, CountingProvider(error=busy)).run(TASK, job("flaky", **args), chat.run)
    assert client.zscore(thread_reservations_key(thread), "flaky") is not None
    rival, rival_provider = (
        job("rival", prompt="y", continuation_id=thread, model="kimi-k2.6"),
        CountingProvider(),
    )
    assert runner_for(client, rival_provider).run(TASK, rival, chat.run) == "error"
    stored = outcomes.load(client, "rival")
    assert stored is not None and "EXAI_THREAD_MAX_TURNS" in stored.text and rival_provider.calls == []
