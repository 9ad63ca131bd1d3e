"""The io.modelcontextprotocol/tasks extension over the task store: get, update, cancel, and rounds."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.core.codec import TASKS_EXTENSION
from tests.gateway.core.memory import Harness, elicit, modern, settle, tool_catalog

pytestmark = pytest.mark.anyio
WITH_TASKS = {"elicitation": {}, "extensions": {TASKS_EXTENSION: {}}}
ENVELOPE_FIELDS = {"taskId", "status", "result", "error", "inputRequests"}


async def request(
    harness: Harness, msg_id: Any, method: str, params: dict[str, Any], **kw: Any
) -> dict[str, Any]:
    conn, frames = harness.post(msg_id, method, modern(params, kw.pop("capabilities", WITH_TASKS)), **kw)
    await settle()
    frames += conn.sink.take()
    (answer,) = frames
    return answer


async def created(harness: Harness, tool: str = "slow") -> str:
    answer = await request(harness, "c", "tools/call", {"name": tool, "arguments": {}})
    assert answer["result"]["resultType"] == "task"
    return str(answer["result"]["taskId"])


async def test_tasks_get_right_after_creation_resolves_and_then_inlines_the_result() -> None:
    """Durable create: the first tasks/get finds the task working; once completed, the result is
    inlined with content and resultType, and without the 2025 related-task key."""
    harness = Harness(catalog=tool_catalog())
    task_id = await created(harness)
    working = (await request(harness, 1, "tasks/get", {"taskId": task_id}))["result"]
    assert working["status"] == "working" and working["resultType"] == "complete"
    assert not {"result", "error", "inputRequests", "requestState"} & set(working)
    harness.finish(task_id, "done", content=[{"type": "text", "text": "done"}])
    done = (await request(harness, 2, "tasks/get", {"taskId": task_id}))["result"]
    assert done["status"] == "completed" and done["result"]["content"][0]["text"] == "done"
    assert "io.modelcontextprotocol/related-task" not in done["result"]["_meta"]


async def test_a_tool_error_completes_and_a_protocol_error_fails_with_its_error() -> None:
    """isError → completed with result.isError; protocol_error → failed with error, no result."""
    harness = Harness(catalog=tool_catalog())
    erring, failing = await created(harness), await created(harness)
    harness.finish(erring, "tool said no", is_error=True, error_code="TOOL_ERROR")
    harness.finish(
        failing, "boom", is_error=True, kind="protocol_error", error={"code": -32603, "message": "boom"}
    )
    tool_error = (await request(harness, 1, "tasks/get", {"taskId": erring}))["result"]
    protocol = (await request(harness, 2, "tasks/get", {"taskId": failing}))["result"]
    assert tool_error["status"] == "completed" and tool_error["result"]["isError"] is True
    assert protocol["status"] == "failed" and protocol["error"] == {"code": -32603, "message": "boom"}
    assert "result" not in protocol


async def test_input_during_a_task_is_inlined_and_answered_by_tasks_update_even_partially() -> None:
    """input_required with both requests; one answer keeps the other pending (the answered key
    gone); the last answer sends the next round with every answer; unknown keys are ignored."""
    harness = Harness(catalog=tool_catalog())
    task_id = await created(harness)
    harness.ask(task_id, {"first": elicit("1?"), "second": elicit("2?")}, {"asked": 2})
    asking = (await request(harness, 1, "tasks/get", {"taskId": task_id}))["result"]
    assert asking["status"] == "input_required" and set(asking["inputRequests"]) == {"first", "second"}
    ack = await request(
        harness, 2, "tasks/update", {"taskId": task_id, "inputResponses": {"first": {"action": "accept"}}}
    )
    assert ack["result"] == {"resultType": "complete", "_meta": ack["result"]["_meta"]}
    after = (await request(harness, 3, "tasks/get", {"taskId": task_id}))["result"]
    assert after["status"] == "input_required" and set(after["inputRequests"]) == {"second"}
    queued = len(harness.calls.jobs)
    await request(harness, 4, "tasks/update", {"taskId": task_id, "inputResponses": {"nope": {"x": 1}}})
    assert len(harness.calls.jobs) == queued
    await request(
        harness, 5, "tasks/update", {"taskId": task_id, "inputResponses": {"second": {"action": "accept"}}}
    )
    job = harness.last_job()
    assert (job.call_id, job.round, job.continuation) == (task_id, 1, {"asked": 2})
    assert set(job.input_responses or {}) == {"first", "second"}
    assert harness.record(task_id).round == 1
    again = (await request(harness, 6, "tasks/get", {"taskId": task_id}))["result"]
    assert again["status"] == "working"


async def test_cancel_is_an_empty_ack_idempotent_on_a_terminal_task() -> None:
    """tasks/cancel acks {resultType: complete} with no task fields; the task is cancelled; on a
    completed task the same ack and nothing changes."""
    harness = Harness(catalog=tool_catalog())
    running, finished = await created(harness), await created(harness)
    harness.finish(finished, "done")
    for task_id in (running, finished):
        ack = (await request(harness, 1, "tasks/cancel", {"taskId": task_id}))["result"]
        assert ack["resultType"] == "complete" and not ENVELOPE_FIELDS & set(ack)
    assert harness.calls.cancelled == [running]
    assert (await request(harness, 2, "tasks/get", {"taskId": running}))["result"]["status"] == "cancelled"
    assert (await request(harness, 3, "tasks/get", {"taskId": finished}))["result"]["status"] == "completed"


@pytest.mark.parametrize("method", ["tasks/get", "tasks/update", "tasks/cancel"])
async def test_without_the_extension_every_tasks_method_is_32021(method: str) -> None:
    """A request that did not declare io.modelcontextprotocol/tasks is refused, naming it."""
    harness = Harness()
    answer = await request(harness, 1, method, {"taskId": "gate", "inputResponses": {}}, capabilities={})
    assert answer["error"]["code"] == -32021
    assert answer["error"]["data"]["requiredCapabilities"] == {"extensions": {TASKS_EXTENSION: {}}}


async def test_unknown_and_foreign_tasks_are_invalid_params() -> None:
    """A made-up id and bob's task look the same to alice: -32602."""
    harness = Harness(catalog=tool_catalog())
    _conn, frames = harness.post(
        "c", "tools/call", modern({"name": "slow", "arguments": {}}, WITH_TASKS), identity="bob"
    )
    bobs = frames[0]["result"]["taskId"]
    for task_id in ("tasks-conformance-nonexistent-12345", bobs, 7, ""):
        answer = await request(harness, 1, "tasks/get", {"taskId": task_id})
        assert answer["error"]["code"] == -32602


async def test_a_task_past_its_deadline_with_no_outcome_ends_in_a_timeout() -> None:
    """Its job was lost: tasks/get stores a TIMEOUT outcome (first wins) and reports it."""
    harness = Harness(catalog=tool_catalog())
    task_id = await created(harness)
    harness.clock.advance(harness.settings.exai_call_timeout_s + 60)
    got = (await request(harness, 1, "tasks/get", {"taskId": task_id}))["result"]
    assert got["status"] == "completed" and got["result"]["isError"] is True
    assert harness.store.outcomes[task_id].error_code == "TIMEOUT"


async def test_a_task_that_gathers_input_before_it_starts_creates_the_task_on_the_answered_round() -> None:
    """input_before_task: round 0 is MRTR; the retry with the state is a CreateTaskResult of the
    same call id, without requestState or inputRequests."""
    harness = Harness(catalog=tool_catalog())
    conn, _ = harness.post(1, "tools/call", modern({"name": "asks_first", "arguments": {}}, WITH_TASKS))
    call_id = harness.last_job().call_id
    harness.ask(call_id, {"user_name": elicit()})
    state = conn.sink.take()[0]["result"]["requestState"]
    params = {
        "name": "asks_first",
        "arguments": {},
        "inputResponses": {"user_name": {"action": "accept"}},
        "requestState": state,
    }
    answer = await request(harness, 2, "tools/call", params)
    assert answer["result"]["resultType"] == "task" and answer["result"]["taskId"] == call_id
    assert not {"requestState", "inputRequests"} & set(answer["result"])
