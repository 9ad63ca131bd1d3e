"""The 2025-11-25 task API of legacy sessions: get, a result that waits without a coroutine, list, cancel."""

from __future__ import annotations

from typing import Any

import pytest

from tests.gateway.core.memory import LEGACY_VERSION, Conn, Harness, elicit, results, settle
from tests.support.mcp_types_oracle import server_result

pytestmark = pytest.mark.anyio
RELATED = "io.modelcontextprotocol/related-task"


def session(harness: Harness, identity: str = "alice", **capabilities: Any) -> Conn:
    conn = harness.connect(identity)
    conn.initialize(capabilities or None)
    return conn


async def ask(conn: Conn, msg_id: Any, method: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """What the request got (answers and server requests; status notes left out)."""
    frames = conn.request(msg_id, method, params)
    await settle()
    frames += conn.sink.take()
    return [f for f in frames if f.get("method") != "notifications/tasks/status"]


def task_of(conn: Conn, **params: Any) -> str:
    (created,) = conn.request("c", "tools/call", {"name": "version", "arguments": {}, "task": params})
    return str(created["result"]["task"]["taskId"])


async def test_tasks_result_waits_on_a_route_and_answers_what_the_call_would_have() -> None:
    """No answer while the task works; the result with related-task once it ends; the wait is not
    a coroutine: it is a route on the call."""
    harness = Harness()
    conn = session(harness)
    task_id = task_of(conn)
    assert await ask(conn, 1, "tasks/result", {"taskId": task_id}) == []
    assert harness.protocol.inflight.calls[task_id].routes  # waiting on the call, not in a task
    harness.finish(task_id, "v", structured={"status": "success"})
    (answer,) = results(conn.sink.take())
    assert answer["id"] == 1 and answer["result"]["_meta"][RELATED] == {"taskId": task_id}
    assert answer["result"]["_meta"]["io.exai/correlation_id"] == harness.record(task_id).correlation_id
    assert answer["result"]["structuredContent"] == {"status": "success"}
    server_result("tools/call", LEGACY_VERSION, answer["result"])


async def test_a_task_of_another_gateway_is_awaited_through_the_done_channel_watch() -> None:
    """A task this process did not send: the wait is a watch, completed when the outcome is heard."""
    harness = Harness()
    conn = session(harness)
    task_id = task_of(conn)
    harness.protocol.inflight.calls.pop(task_id).slot.release()  # as if another gateway sent it
    await ask(conn, 1, "tasks/result", {"taskId": task_id})
    assert task_id in harness.protocol.inflight.watches
    harness.finish(task_id, "from elsewhere")
    assert results(conn.sink.take())[0]["result"]["content"][0]["text"] == "from elsewhere"


async def test_tasks_get_list_and_cancel_follow_the_2025_shapes() -> None:
    """working → cancelled by tasks/cancel (the Task answered); cancelling again is -32602; the
    caller's tasks are listed newest first; a tool error is 'failed' in this API."""
    harness = Harness()
    conn = session(harness)
    first = task_of(conn, ttl=60000)
    harness.clock.advance(1)
    second = task_of(conn)
    (got,) = await ask(conn, 1, "tasks/get", {"taskId": first})
    assert got["result"]["status"] == "working" and got["result"]["ttl"] == 60000
    (cancelled,) = await ask(conn, 2, "tasks/cancel", {"taskId": first})
    assert cancelled["result"]["status"] == "cancelled"
    (again,) = await ask(conn, 3, "tasks/cancel", {"taskId": first})
    assert again["error"]["code"] == -32602
    harness.finish(second, "no", is_error=True, error_code="TOOL_ERROR")
    (listed,) = await ask(conn, 4, "tasks/list", {})
    assert [t["taskId"] for t in listed["result"]["tasks"]] == [second, first]
    assert listed["result"]["tasks"][0]["status"] == "failed"
    (forged,) = await ask(conn, 5, "tasks/list", {"cursor": "forged"})
    assert forged["error"]["code"] == -32602


async def test_another_identitys_tasks_are_invisible() -> None:
    """Bob cannot get, wait for or cancel Alice's task, nor see it listed."""
    harness = Harness()
    task_id = task_of(session(harness, "alice"))
    bob = session(harness, "bob")
    for n, method in enumerate(("tasks/get", "tasks/result", "tasks/cancel")):
        (answer,) = await ask(bob, n, method, {"taskId": task_id})
        assert answer["error"]["code"] == -32602
    (listed,) = await ask(bob, 9, "tasks/list", {})
    assert listed["result"]["tasks"] == []


async def test_a_task_waiting_for_input_asks_on_the_tasks_result_stream_and_goes_on() -> None:
    """The pending requests go out with related-task; the answers start the task's next round; the
    wait then answers with the final result."""
    harness = Harness()
    conn = session(harness, elicitation={})
    task_id = task_of(conn)
    harness.ask(task_id, {"confirm": elicit("Delete?")}, {"file": "x"})
    conn.sink.take()  # the status note of the input round
    frames = await ask(conn, 1, "tasks/result", {"taskId": task_id})
    (asked,) = [f for f in frames if f.get("method") == "elicitation/create"]
    assert asked["params"]["_meta"][RELATED] == {"taskId": task_id}
    conn.send({"jsonrpc": "2.0", "id": asked["id"], "result": {"action": "accept", "content": {"ok": True}}})
    await settle()
    job = harness.last_job()
    assert (job.call_id, job.round, job.continuation) == (task_id, 1, {"file": "x"})
    harness.finish(task_id, "deleted")
    (answer,) = results(conn.sink.take())
    assert answer["id"] == 1 and answer["result"]["content"][0]["text"] == "deleted"


async def test_a_cancelled_tasks_result_wait_never_cancels_the_task() -> None:
    """notifications/cancelled for the wait: no answer, the task runs on."""
    harness = Harness()
    conn = session(harness)
    task_id = task_of(conn)
    await ask(conn, 1, "tasks/result", {"taskId": task_id})
    conn.notify("notifications/cancelled", {"requestId": 1})
    harness.finish(task_id, "v")
    assert results(conn.sink.take()) == [] and harness.calls.cancelled == []
