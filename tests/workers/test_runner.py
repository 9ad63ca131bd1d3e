"""The runner against real Redis: stored, running, orphaned, late, retried, deferred and set-aside calls."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any, cast

import pytest
import redis
from celery import Task

from contracts.errors import ProviderError
from contracts.job import Job, Outcome
from contracts.names import (
    claim_key,
    consult_done_key,
    consult_waiting_key,
    handover_key,
    result_key,
    thread_reservations_key,
)
from contracts.settings import load_settings
from contracts.transport import Consumers
from tests.workers.redis_fixture import redis_client
from tests.workers.tool_context import CountingProvider
from workers import outcomes
from workers.cancel_listener import CancelListener
from workers.claims import Claims
from workers.context import ToolContext
from workers.deferral import Deferred
from workers.providers.base import ProviderClient
from workers.runner import Runner
from workers.threads import ThreadStore, Turn
from workers.tools import ToolFunction, chat

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


# --- the runner's decisions for one delivery, with an injected clock and no sleeps --------------

NOW = 2_000_000_000.0


class RetryRequested(Exception):
    """What the stand-in task raises where Celery would schedule a retry."""


class StandInTask:
    """The two things the runner asks of a Celery task: its retry count and ``retry()``."""

    def __init__(self, retries: int = 0) -> None:
        self.request = SimpleNamespace(retries=retries)
        self.retried: list[float] = []

    def retry(self, *, countdown: float, max_retries: int, exc: BaseException) -> RetryRequested:
        self.retried.append(countdown)
        return RetryRequested()


def make_runner(client: redis.Redis, owner: str, now: list[float]) -> Runner:
    settings = load_settings(exai_max_retries=2)
    claims = Claims(client, 15, owner=owner, clock=lambda: now[0])
    no_providers = cast(Callable[[str], ProviderClient], lambda _name: None)  # the tools here call none
    return Runner(settings, client, CancelListener(client), no_providers, claims, clock=lambda: now[0])


def deliver(
    runner: Runner, payload: dict[str, Any], tool: ToolFunction, task: StandInTask | None = None
) -> str:
    """One delivery of ``payload`` to ``runner``, as Celery would hand it over."""
    return runner.run(cast(Task, task or StandInTask()), payload, tool)


def clocked_job(call_id: str, deadline: float = NOW + 600) -> dict[str, Any]:
    made = Job(
        call_id=call_id, tool="chat", arguments={}, deadline=deadline, created_at=NOW, correlation_id=call_id
    )
    return made.model_dump(mode="json")


def answering(calls: list[str]) -> ToolFunction:
    def tool(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
        calls.append(ctx.call_id)
        return {"status": "success", "content": "hi", "metadata": {"provider": "kimi", "model": "k"}}

    return tool


def test_a_delivery_of_a_finished_call_is_answered_from_its_stored_outcome(client: redis.Redis) -> None:
    """A redelivered message never runs the tool again."""
    now, calls = [NOW], []
    client.set(result_key("done-1"), Outcome(call_id="done-1", text="earlier").model_dump_json())
    assert deliver(make_runner(client, "w1", now), clocked_job("done-1"), answering(calls)) == "duplicate"
    assert calls == []


def test_a_second_delivery_steps_aside_while_a_live_worker_runs_the_call(client: redis.Redis) -> None:
    """The claim of a worker whose heartbeat is alive makes a redelivered copy a no-op."""
    now, calls = [NOW], []
    Consumers(client, 3, remember_s=30, clock=lambda: now[0]).beat("w1")
    assert Claims(client, 15, owner="w1").begin("busy-1", 60).claimed
    now[0] += 2
    assert deliver(make_runner(client, "w2", now), clocked_job("busy-1"), answering(calls)) == "duplicate"
    assert calls == [] and client.get(claim_key("busy-1")) == b"w1"


def test_a_call_claimed_by_a_worker_whose_heartbeat_lapsed_runs_at_once(client: redis.Redis) -> None:
    """No waiting for the claim's own ttl: the lapsed heartbeat frees it, and the call is answered."""
    now, calls = [NOW], []
    Consumers(client, 3, remember_s=30, clock=lambda: now[0]).beat("w1")
    Claims(client, 15, owner="w1").begin("orphan-1", 60)
    now[0] += 3.5
    assert deliver(make_runner(client, "w2", now), clocked_job("orphan-1"), answering(calls)) == "ok"
    assert calls == ["orphan-1"]
    stored = Outcome.model_validate_json(client.get(result_key("orphan-1")) or b"")
    assert not stored.is_error and not client.exists(claim_key("orphan-1"))


def test_a_call_that_waited_past_its_deadline_is_answered_with_a_timeout_without_running(
    client: redis.Redis,
) -> None:
    """The deadline is read from the injected clock: no provider call for a call nobody awaits."""
    now, calls = [NOW + 601], []
    assert deliver(make_runner(client, "w1", now), clocked_job("late-1"), answering(calls)) == "timeout"
    stored = Outcome.model_validate_json(client.get(result_key("late-1")) or b"")
    assert calls == [] and stored.error_code == "TIMEOUT" and "601 s" in stored.text


def test_a_transient_provider_error_parks_the_claim_and_schedules_a_retry(client: redis.Redis) -> None:
    """The retry waits as a Celery message; the claim is parked so any worker may take it."""
    now = [NOW]

    def busy(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
        raise ProviderError("busy", provider="kimi", kind="server_error")

    task = StandInTask()
    with pytest.raises(RetryRequested):
        deliver(make_runner(client, "w1", now), clocked_job("retry-1"), busy, task)
    assert len(task.retried) == 1
    assert client.get(claim_key("retry-1")) == b"retry:w1" and not client.exists(result_key("retry-1"))


def test_a_deferred_call_gives_its_slot_and_claim_up_and_stores_no_outcome(client: redis.Redis) -> None:
    """A consensus parent waiting for its models: no outcome, no claim, marked waiting."""
    now = [NOW]

    def waits(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
        raise Deferred(total=2)

    assert deliver(make_runner(client, "w1", now), clocked_job("parent-1"), waits) == "deferred"
    assert not client.exists(result_key("parent-1")) and not client.exists(claim_key("parent-1"))
    assert client.exists(consult_waiting_key("parent-1")) and not client.exists(consult_done_key("parent-1"))


def test_time_is_only_read_from_the_injected_clock(client: redis.Redis) -> None:
    """The same job is on time at one injected instant and late at another, whatever the wall clock."""
    calls: list[str] = []
    early, late = [NOW], [NOW + 10_000]
    assert deliver(make_runner(client, "w1", early), clocked_job("t-1"), answering(calls)) == "ok"
    assert deliver(make_runner(client, "w1", late), clocked_job("t-2"), answering(calls)) == "timeout"
    assert calls == ["t-1"] and time.time() < NOW
