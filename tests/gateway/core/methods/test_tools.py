"""tools/list and tools/call in both eras: validation, limits, the route, the task decision."""

from __future__ import annotations

import math
from typing import Any

import pytest

from contracts.tools import SPECS
from gateway.core.codec import TASKS_EXTENSION
from gateway.core.peer import MODERN
from gateway.core.ports import QueueUnavailable
from tests.gateway.core.memory import (
    LEGACY_VERSION,
    MODERN_VERSION,
    Conn,
    Harness,
    modern,
    notes,
    results,
    tool_catalog,
)
from tests.support.mcp_types_oracle import server_frame, server_result

WITH_TASKS = {"extensions": {TASKS_EXTENSION: {}}}


def legacy(harness: Harness, **capabilities: Any) -> Conn:
    conn = harness.connect()
    conn.initialize(capabilities or None)
    return conn


# --- tools/list -----------------------------------------------------------------------------------
def test_tools_list_pages_with_a_cursor_until_every_tool_is_seen() -> None:
    """With one tool per page, following nextCursor visits every tool once, in order."""
    harness = Harness(exai_tools_page_size=1)
    harness.protocol.tools.catalog.page_size = 1
    conn = legacy(harness)
    seen: list[str] = []
    cursor = None
    for n in range(len(SPECS) + 1):
        (answer,) = conn.request(n + 10, "tools/list", {"cursor": cursor} if cursor else {})
        seen += [tool["name"] for tool in answer["result"]["tools"]]
        cursor = answer["result"].get("nextCursor")
        if cursor is None:
            break
    assert seen == list(SPECS)


def test_a_forged_or_mistyped_cursor_is_invalid_params() -> None:
    """A cursor we did not issue (or not a string) is -32602."""
    conn = legacy(Harness())
    for cursor in ("bm9wZQ==", 7):
        (answer,) = conn.request(1, "tools/list", {"cursor": cursor})
        assert answer["error"]["code"] == -32602


def test_a_modern_page_carries_cache_hints_and_is_encoded_once_per_catalog_version() -> None:
    """ttlMs/cacheScope public on tools/list; the same page text until the catalog changes."""
    harness = Harness()
    _, (first,) = harness.post(1, "tools/list", modern())
    _, (second,) = harness.post(2, "tools/list", modern())
    assert first["result"]["ttlMs"] == 300_000 and first["result"]["cacheScope"] == "public"
    server_result("tools/list", MODERN_VERSION, first["result"])
    assert first["result"] == second["result"]
    pages = harness.protocol.tools._pages
    assert len(pages) == 1
    harness.protocol.tools.catalog.changed()
    harness.post(3, "tools/list", modern())
    assert all(key[0] == harness.protocol.tools.catalog.version for key in pages)


# --- refusals -------------------------------------------------------------------------------------
def test_an_unknown_tool_is_invalid_params_naming_it() -> None:
    """Calling a tool that does not exist is a protocol error, -32602."""
    (answer,) = legacy(Harness()).request(1, "tools/call", {"name": "nope", "arguments": {}})
    assert answer["error"]["code"] == -32602 and "nope" in answer["error"]["message"]


def test_bad_arguments_are_an_error_result_naming_each_problem_before_anything_is_queued() -> None:
    """Schema violations come back as isError results; nothing reaches the queue."""
    harness = Harness()
    (answer,) = legacy(harness).request(1, "tools/call", {"name": "chat", "arguments": {"temperature": 7}})
    text = answer["result"]["content"][0]["text"]
    assert answer["result"]["isError"] is True
    assert "'prompt' is a required property" in text and "temperature" in text
    assert harness.calls.jobs == []


def test_arguments_that_are_not_an_object_are_an_error_result() -> None:
    """arguments must be an object."""
    (answer,) = legacy(Harness()).request(1, "tools/call", {"name": "chat", "arguments": [1]})
    assert answer["result"]["isError"] is True


def test_nan_in_arguments_is_named_by_validation_and_refused_as_invalid_params_for_a_task() -> None:
    """A plain call gets an isError naming it; a 2025 task-augmented one, -32602 naming it."""
    conn = legacy(Harness())
    call = '{"name":"chat","arguments":{"prompt":"hi","temperature":NaN}'
    plain = conn.send('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":' + call + "}}")[0]
    as_task = conn.send('{"jsonrpc":"2.0","id":2,"method":"tools/call","params":' + call + ',"task":{}}}')[0]
    assert "temperature: NaN is not a number JSON allows" in plain["result"]["content"][0]["text"]
    assert as_task["error"]["code"] == -32602 and "temperature: NaN" in as_task["error"]["message"]


def test_a_non_finite_progress_token_or_task_ttl_is_invalid_params() -> None:
    """They would be echoed in every progress notification or kept as a ttl: -32602 naming them."""
    conn = legacy(Harness())
    token = conn.send(
        '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"version","arguments":{},'
        '"_meta":{"progressToken":Infinity}}}'
    )[0]
    ttl = conn.send(
        '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"version","arguments":{},'
        '"task":{"ttl":NaN}}}'
    )[0]
    assert token["error"]["code"] == -32602 and "progressToken" in token["error"]["message"]
    assert ttl["error"]["code"] == -32602 and "task.ttl" in ttl["error"]["message"]


def test_a_tool_needing_a_capability_the_request_lacks_is_32021_with_status_400() -> None:
    """requiredCapabilities is a ClientCapabilities object naming the capability."""
    harness = Harness(catalog=tool_catalog())
    conn, (answer,) = harness.post(401, "tools/call", modern({"name": "needs_sampling", "arguments": {}}))
    assert answer["error"]["code"] == -32021
    assert answer["error"]["data"] == {"requiredCapabilities": {"sampling": {}}}
    assert conn.sink.status == 400 and harness.calls.jobs == []


# --- a plain call, both eras -----------------------------------------------------------------------
@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_a_plain_call_streams_increasing_progress_then_its_result(era: str) -> None:
    """Progress under the request's token keeps growing (a retried worker restarts its count); the
    result carries the content blocks, structuredContent and the call's ids."""
    harness = Harness()
    params = {"name": "version", "arguments": {}, "_meta": {"progressToken": "p"}}
    if era == "modern":
        conn, frames = harness.post(1, "tools/call", modern(params, progressToken="p"))
    else:
        conn = legacy(harness)
        frames = conn.request(1, "tools/call", params)
    assert frames == []
    job = harness.last_job()
    assert job.progress is True
    for value in (1, 2, 1):
        harness.progress(job.call_id, value, message=f"step {value}")
    blocks = [{"type": "text", "text": "v"}, {"type": "image", "data": "AAAA", "mimeType": "image/png"}]
    harness.finish(job.call_id, "v", content=blocks, structured={"status": "success"})
    frames = conn.sink.take()
    progress = [f["params"]["progress"] for f in notes(frames, "notifications/progress")]
    assert progress == [1, 2, 3]
    (answer,) = [f for f in frames if "id" in f]
    assert answer["result"]["content"] == blocks
    assert answer["result"]["structuredContent"] == {"status": "success"}
    assert answer["result"]["_meta"]["io.exai/call_id"] == job.call_id
    version = MODERN_VERSION if era == "modern" else LEGACY_VERSION
    for frame in frames:
        server_frame(frame, version, method="tools/call")


def test_a_protocol_failure_of_the_tool_is_answered_with_its_json_rpc_error() -> None:
    """kind=protocol_error becomes the error, code and data kept."""
    harness = Harness()
    conn = legacy(harness)
    conn.request(1, "tools/call", {"name": "version", "arguments": {}})
    harness.finish(
        harness.last_job().call_id,
        "boom",
        is_error=True,
        kind="protocol_error",
        error={
            "code": -32021,
            "message": "needs sampling",
            "data": {"requiredCapabilities": {"sampling": {}}},
        },
    )
    (answer,) = conn.sink.take()
    assert answer["error"] == {
        "code": -32021,
        "message": "needs sampling",
        "data": {"requiredCapabilities": {"sampling": {}}},
    }


def test_a_tool_error_is_an_is_error_result_with_a_warning_log_to_a_legacy_session() -> None:
    """isError true; the session (level info) also gets a warning naming the call."""
    harness = Harness()
    conn = legacy(harness)
    conn.request(1, "tools/call", {"name": "version", "arguments": {}})
    harness.finish(
        harness.last_job().call_id, "the provider failed", is_error=True, error_code="PROVIDER_ERROR"
    )
    frames = conn.sink.take()
    assert notes(frames, "notifications/message")[0]["params"]["level"] == "warning"
    assert frames[-1]["result"]["isError"] is True


def test_modern_logs_reach_a_request_only_when_it_asked_for_them_at_that_level() -> None:
    """No logLevel: no notifications/message at all; logLevel warning: info is filtered out."""
    harness = Harness()
    quiet, _ = harness.post(1, "tools/call", modern({"name": "version", "arguments": {}}))
    assert harness.last_job().log is False
    harness.progress(harness.last_job().call_id, 0, log={"level": "error", "data": "x"})
    assert notes(quiet.sink.take(), "notifications/message") == []
    loud, _ = harness.post(
        2,
        "tools/call",
        modern({"name": "version", "arguments": {}}, **{"io.modelcontextprotocol/logLevel": "warning"}),
    )
    job = harness.last_job()
    assert job.log is True
    harness.progress(job.call_id, 0, log={"level": "info", "data": "quiet"})
    harness.progress(job.call_id, 0, log={"level": "error", "logger": "t", "data": "loud"})
    logs = notes(loud.sink.take(), "notifications/message")
    assert [m["params"]["data"] for m in logs] == ["loud"]
    server_frame(logs[0], MODERN_VERSION)


def test_legacy_logs_follow_the_session_level() -> None:
    """logging/setLevel error filters out the tool's info messages."""
    harness = Harness()
    conn = legacy(harness)
    conn.request(1, "logging/setLevel", {"level": "error"})
    conn.request(2, "tools/call", {"name": "version", "arguments": {}})
    call_id = harness.last_job().call_id
    harness.progress(call_id, 0, log={"level": "info", "data": "hidden"})
    harness.progress(call_id, 0, log={"level": "critical", "data": "shown"})
    assert [m["params"]["data"] for m in notes(conn.sink.take(), "notifications/message")] == ["shown"]


def test_a_cancelled_call_is_stopped_on_the_workers_and_never_answered() -> None:
    """notifications/cancelled: the call is cancelled, its slot freed, nothing sent for it."""
    harness = Harness()
    conn = legacy(harness)
    conn.request(7, "tools/call", {"name": "version", "arguments": {}})
    call_id = harness.last_job().call_id
    assert conn.notify("notifications/cancelled", {"requestId": 7}) == []
    assert harness.calls.cancelled == [call_id]
    assert harness.limits.in_flight == {} and harness.limits.pending == {}
    assert conn.sink.take() == []


def test_a_client_leaving_stops_its_answer_but_never_the_call_nor_its_slot() -> None:
    """Closing the connection abandons the route; the call runs on holding its slot until its outcome."""
    harness = Harness()
    conn = legacy(harness)
    conn.request(1, "tools/call", {"name": "version", "arguments": {}})
    call_id = harness.last_job().call_id
    conn.close()
    assert harness.calls.cancelled == []
    assert harness.limits.in_flight == {"alice": 1} and harness.limits.pending == {}
    harness.finish(call_id)
    assert harness.limits.in_flight == {} and conn.sink.frames == []


def test_over_the_in_flight_cap_a_plain_call_is_an_error_result_with_retry_after() -> None:
    """The slot refusal of a plain call is an isError result with _meta retry_after_s; of a 2025
    task, -32000 naming the limit."""
    harness = Harness(exai_client_max_in_flight=1)
    conn = legacy(harness)
    conn.request(1, "tools/call", {"name": "version", "arguments": {}})
    (plain,) = conn.request(2, "tools/call", {"name": "version", "arguments": {}})
    assert plain["result"]["isError"] is True and plain["result"]["_meta"]["io.exai/retry_after_s"] > 0
    (task,) = conn.request(3, "tools/call", {"name": "version", "arguments": {}, "task": {}})
    assert task["error"]["code"] == -32000 and task["error"]["data"]["limit"] == "client_in_flight"


def test_when_the_queue_is_down_a_plain_call_says_so_and_a_task_request_is_internal_error() -> None:
    """Redis or Celery unreachable: an isError result; a task request cannot name a task: -32603."""
    harness = Harness()
    harness.calls.fail = QueueUnavailable("redis down")
    conn = legacy(harness)
    (plain,) = results(conn.request(1, "tools/call", {"name": "version", "arguments": {}}))
    assert (
        plain["result"]["isError"] is True and "queue is unavailable" in plain["result"]["content"][0]["text"]
    )
    (task,) = conn.request(2, "tools/call", {"name": "version", "arguments": {}, "task": {}})
    assert task["error"]["code"] == -32603
    assert harness.limits.in_flight == {} and len(harness.protocol.inflight) == 0


def test_the_gateway_heartbeats_a_silent_call_with_the_same_value_and_its_state() -> None:
    """A call silent past the interval gets progress naming its state, never a smaller value."""
    harness = Harness()
    conn = legacy(harness)
    conn.request(1, "tools/call", {"name": "version", "arguments": {}, "_meta": {"progressToken": 5}})
    harness.progress(harness.last_job().call_id, 3)
    harness.clock.advance(6)
    harness.protocol.inflight.heartbeat(5.0)
    beats = notes(conn.sink.take(), "notifications/progress")
    assert beats[-1]["params"]["progress"] == 3 and "running" in beats[-1]["params"]["message"]


# --- the task decision -----------------------------------------------------------------------------
def test_a_modern_client_declaring_the_extension_gets_a_durable_task_for_a_long_tool() -> None:
    """CreateTaskResult, flat, after the record is written: ttlMs and pollIntervalMs integers."""
    harness = Harness(catalog=tool_catalog())
    _, (answer,) = harness.post(1, "tools/call", modern({"name": "slow", "arguments": {}}, WITH_TASKS))
    created = answer["result"]
    assert created["resultType"] == "task" and created["status"] == "working"
    assert created["taskId"] in harness.store.records
    assert isinstance(created["ttlMs"], int) and isinstance(created["pollIntervalMs"], int)
    assert not {"task", "ttl", "pollInterval", "requestState", "result", "inputRequests"} & set(created)
    assert harness.record(created["taskId"]).era == "modern"


@pytest.mark.parametrize(
    ("tool", "capabilities", "prefer", "task"),
    [
        ("quick", WITH_TASKS, False, False),
        ("quick", WITH_TASKS, True, True),
        ("slow", {}, False, False),
        ("sync_only", WITH_TASKS, True, False),
        ("only_task", WITH_TASKS, False, True),
    ],
)
def test_the_server_decides_per_request_whether_a_call_becomes_a_task(
    tool: str, capabilities: dict[str, Any], prefer: bool, task: bool
) -> None:
    """Only with the extension declared; long or task-only tools, or the bridge's hint; never a
    forbidden one; a legacy-style task param never promotes a sync tool."""
    harness = Harness(catalog=tool_catalog())
    meta = {"io.exai/preferTask": True} if prefer else {}
    conn, frames = harness.post(
        1, "tools/call", modern({"name": tool, "arguments": {}, "task": {}}, capabilities, **meta)
    )
    if task:
        assert frames[0]["result"]["resultType"] == "task"
    else:
        assert frames == []
        harness.finish(harness.last_job().call_id, "done")
        assert conn.sink.take()[0]["result"]["resultType"] == "complete"


def test_a_task_only_tool_without_the_extension_is_32021_naming_it() -> None:
    """requiredCapabilities.extensions names io.modelcontextprotocol/tasks."""
    harness = Harness(catalog=tool_catalog())
    _conn, (answer,) = harness.post(1, "tools/call", modern({"name": "only_task", "arguments": {}}))
    assert answer["error"]["code"] == -32021
    assert answer["error"]["data"] == {"requiredCapabilities": {"extensions": {TASKS_EXTENSION: {}}}}


def test_a_tool_asking_before_its_task_is_synchronous_on_its_first_round() -> None:
    """input_before_task: round 0 is a plain call, even for a task-only tool."""
    harness = Harness(catalog=tool_catalog())
    _, frames = harness.post(1, "tools/call", modern({"name": "asks_first", "arguments": {}}, WITH_TASKS))
    assert frames == [] and harness.last_job().round == 0


def test_a_2025_task_answers_with_its_task_and_tells_its_connection_when_it_ends() -> None:
    """{task} with ttl capped by the result ttl; progress for the task's life; a status note."""
    harness = Harness()
    conn = legacy(harness)
    params = {"name": "version", "arguments": {}, "task": {"ttl": 10**12}, "_meta": {"progressToken": "t"}}
    before = len(conn.channel.closers)
    (created,) = conn.request(1, "tools/call", params)
    task = created["result"]["task"]
    assert task["status"] == "working" and task["ttl"] == 3600 * 1000
    harness.progress(task["taskId"], 1)
    harness.finish(task["taskId"], "v")
    frames = conn.sink.take()
    assert notes(frames, "notifications/progress")[0]["params"]["progressToken"] == "t"
    (status,) = notes(frames, "notifications/tasks/status")
    assert status["params"]["taskId"] == task["taskId"] and status["params"]["status"] == "completed"
    assert len(conn.channel.closers) == before  # an ended task's watch leaves nothing on the connection


def test_2025_task_support_rules_are_method_not_found() -> None:
    """A task for a forbidden tool, or a plain call of a task-only one: -32601."""
    harness = Harness(catalog=tool_catalog())
    conn = legacy(harness)
    (forbidden,) = conn.request(1, "tools/call", {"name": "sync_only", "arguments": {}, "task": {}})
    (required,) = conn.request(2, "tools/call", {"name": "only_task", "arguments": {}})
    assert forbidden["error"]["code"] == -32601 and required["error"]["code"] == -32601


def test_a_modern_channel_closing_cancels_its_calls_and_a_stream_closing_does_not() -> None:
    """Closing a Streamable HTTP request's stream cancels its call; a socket closing abandons."""
    harness = Harness()
    post, _ = harness.post(1, "tools/call", modern({"name": "version", "arguments": {}}))
    post.close(cancel=True)
    assert harness.calls.cancelled == [harness.last_job().call_id]
    stream = harness.connect(era=MODERN)
    stream.request(2, "tools/call", modern({"name": "version", "arguments": {}}))
    stream.close()
    assert len(harness.calls.cancelled) == 1


def test_progress_values_survive_json_as_finite_numbers() -> None:
    """A worker's progress is a float; it stays finite on the wire."""
    harness = Harness()
    conn = legacy(harness)
    conn.request(1, "tools/call", {"name": "version", "arguments": {}, "_meta": {"progressToken": 1}})
    harness.progress(harness.last_job().call_id, 0.5, total=1.0)
    (note,) = notes(conn.sink.take())
    assert math.isfinite(note["params"]["progress"]) and note["params"]["total"] == 1.0


def test_an_unexpected_queueing_failure_is_one_internal_error_for_plain_and_task_calls() -> None:
    """Not the queue being down but a bug: exactly one -32603 each, never silence."""
    harness = Harness()
    harness.calls.fail = RuntimeError("surprise")
    conn = legacy(harness)
    (plain,) = conn.request(1, "tools/call", {"name": "chat", "arguments": {"prompt": "hi"}})
    (task,) = conn.request(2, "tools/call", {"name": "chat", "arguments": {"prompt": "hi"}, "task": {}})
    assert [(a["id"], a["error"]["code"]) for a in (plain, task)] == [(1, -32603), (2, -32603)]
    assert conn.sink.take() == [] and harness.limits.in_flight == {}


def test_a_call_accepted_just_before_its_client_left_is_still_recorded_and_queued() -> None:
    """Recording and queueing happen together on the enqueue pool: closing the connection while
    they are under way stops neither (a recorded call never queued stayed `working`)."""
    harness = Harness()
    harness.calls.hold = True
    conn = legacy(harness)
    conn.request(1, "tools/call", {"name": "chat", "arguments": {"prompt": "hi"}})
    conn.close()
    harness.calls.release()
    job = harness.last_job()
    assert job.call_id in harness.store.records and conn.sink.frames == []


@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_listed_tools_carry_schemas_annotations_and_task_support(era: str) -> None:
    """Every tool has an object input schema, an output schema, annotations and execution."""
    harness = Harness()
    if era == "modern":
        _, (answer,) = harness.post(1, "tools/list", modern())
    else:
        (answer,) = legacy(harness).request(1, "tools/list")
    for tool in answer["result"]["tools"]:
        assert tool["inputSchema"]["type"] == "object" and tool["outputSchema"]["type"] == "object"
        assert "readOnlyHint" in tool["annotations"] and tool["execution"] == {"taskSupport": "optional"}


def test_a_task_the_bridge_asked_for_streams_progress_and_its_end_on_the_bridges_socket() -> None:
    """io.exai/preferTask on a socket: progress under the token, then notifications/tasks."""
    harness = Harness()
    conn = harness.connect(era=MODERN)
    (created,) = conn.request(
        1,
        "tools/call",
        modern(
            {"name": "version", "arguments": {}},
            WITH_TASKS,
            **{"io.exai/preferTask": True, "progressToken": "p"},
        ),
    )
    task_id = created["result"]["taskId"]
    harness.progress(task_id, 1)
    harness.finish(task_id, "v")
    frames = conn.sink.take()
    assert notes(frames, "notifications/progress")[0]["params"]["progressToken"] == "p"
    (ended,) = notes(frames, "notifications/tasks")
    assert ended["params"]["status"] == "completed" and ended["params"]["result"]["content"][0]["text"] == "v"
