"""Timing runs and checking their answers: a layer that answers with errors fails the benchmark."""

from __future__ import annotations

import pytest

from bench.protocol_measure import Answers, WrongAnswer, best_of, check_answer, run_batches

pytestmark = pytest.mark.anyio


async def test_a_run_waits_for_every_answer_of_every_batch() -> None:
    """run_batches sends in batches of the given size and reports one figure per call."""
    answers = Answers()
    sent: list[int] = []

    def send(message: int) -> None:
        sent.append(message)
        answers.hit(message)

    run = await run_batches(list(range(10)), 4, send, answers)
    assert sent == list(range(10))
    assert run["calls"] == 10 and run["concurrency"] == 4
    assert run["cpu_us_per_call"] >= 0 and run["calls_per_s"] > 0


def test_an_error_answer_is_refused() -> None:
    """A JSON-RPC error or an isError result is not a benchmark answer."""
    with pytest.raises(WrongAnswer):
        check_answer("tools/call", {"id": 1, "error": {"code": -32603, "message": "x"}}, 0)
    with pytest.raises(WrongAnswer):
        check_answer("tools/call", {"id": 1, "result": {"content": [], "isError": True}}, 0)
    with pytest.raises(WrongAnswer):
        check_answer("tools/list", {"id": 1, "result": {"tools": [{}]}}, 2)
    check_answer("tools/call", {"id": 1, "result": {"isError": False, "structuredContent": {}}}, 0)


def test_the_median_round_is_reported_with_every_round() -> None:
    """best_of picks the median run by CPU and keeps the others' figures beside it."""
    runs = [{"cpu_us_per_call": v, "calls_per_s": 1} for v in (30.0, 10.0, 20.0)]
    chosen = best_of(runs)
    assert chosen["cpu_us_per_call"] == 20.0
    assert chosen["cpu_us_runs"] == [30.0, 10.0, 20.0]
