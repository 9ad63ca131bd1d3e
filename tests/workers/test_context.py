"""What a tool gets from its context: the client's capabilities and answers, logs, a cancellable sleep."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from contracts.errors import CallCancelled, DeadlineExceeded
from contracts.settings import load_settings
from tests.workers.tool_context import CountingProvider, tool_context

SETTINGS = load_settings()


def test_the_context_shows_the_jobs_capabilities_answers_continuation_and_round() -> None:
    """ctx.client_capabilities, input_responses, continuation, round and declares() read the job."""
    ctx = tool_context(SETTINGS, CountingProvider())
    answers = {"k": {"action": "accept", "content": {}}}
    ctx.job = ctx.job.model_copy(
        update={
            "client_capabilities": {"elicitation": {}, "sampling": None},
            "input_responses": answers,
            "continuation": {"step": 2},
            "round": 3,
        }
    )
    assert ctx.client_capabilities == {"elicitation": {}, "sampling": None}
    assert (ctx.input_responses, ctx.continuation, ctx.round) == (answers, {"step": 2}, 3)
    assert ctx.declares("elicitation") and not ctx.declares("sampling") and not ctx.declares("roots")


def test_a_log_goes_to_the_sink_with_the_last_progress_value_and_an_optional_logger() -> None:
    """Log messages carry {level, data, logger?} and never advance progress."""
    ctx = tool_context(SETTINGS, CountingProvider())
    sent: list[tuple[dict[str, Any], float]] = []
    ctx.log_sink = lambda message, progress: sent.append((message, progress))
    ctx.log("info", "before any progress")
    ctx.progress(40, 100, force=True)
    ctx.log("error", {"n": 1}, logger="fixture")
    assert sent == [
        ({"level": "info", "data": "before any progress"}, 0.0),
        ({"level": "error", "data": {"n": 1}, "logger": "fixture"}, 40.0),
    ]


def test_a_log_with_no_listener_is_dropped_and_an_unknown_level_is_refused() -> None:
    """No sink: nothing happens; a level outside debug…emergency is a programming error, said plainly."""
    ctx = tool_context(SETTINGS, CountingProvider())
    ctx.log("debug", "nobody listens")
    with pytest.raises(ValueError, match="log level must be one of debug, info"):
        ctx.log("verbose", "x")


def test_sleep_ends_early_when_the_call_is_cancelled() -> None:
    """A 30 s sleep raises CallCancelled as soon as the token is set."""
    ctx = tool_context(SETTINGS, CountingProvider())
    threading.Timer(0.1, ctx.cancel.set).start()
    started = time.monotonic()
    with pytest.raises(CallCancelled):
        ctx.sleep(30)
    assert time.monotonic() - started < 10


def test_sleep_stops_at_the_calls_deadline() -> None:
    """A sleep longer than the time left ends with DeadlineExceeded at the deadline."""
    ctx = tool_context(SETTINGS, CountingProvider(), timeout_s=0.2)
    with pytest.raises(DeadlineExceeded, match="EXAI_CALL_TIMEOUT_S"):
        ctx.sleep(30)


def test_a_short_sleep_returns_normally() -> None:
    """Zero seconds is no wait at all."""
    ctx = tool_context(SETTINGS, CountingProvider())
    ctx.sleep(0)
