"""subscriptions/listen: acknowledged first, tagged, filtered; list changes and task notifications."""

from __future__ import annotations

from typing import Any

from gateway.core.codec import TASKS_EXTENSION
from gateway.core.task_views import TaskState, detailed_task
from tests.gateway.core.memory import MODERN_VERSION, Conn, Harness, modern, notes, tool_catalog
from tests.support.mcp_types_oracle import server_frame

SUB = "io.modelcontextprotocol/subscriptionId"


def listen(
    harness: Harness, msg_id: Any, wanted: dict[str, Any], capabilities: dict[str, Any] | None = None
) -> tuple[Conn, list[dict[str, Any]]]:
    return harness.post(msg_id, "subscriptions/listen", modern({"notifications": wanted}, capabilities))


def test_the_acknowledgement_comes_first_with_the_agreed_filter_and_the_subscription_id() -> None:
    """The subset agreed (only what was asked), tagged with the listen request's id; no answer yet."""
    harness = Harness()
    conn, frames = listen(harness, 77, {"toolsListChanged": True, "promptsListChanged": False})
    (ack,) = frames
    assert ack["method"] == "notifications/subscriptions/acknowledged"
    assert ack["params"] == {"_meta": {SUB: 77}, "notifications": {"toolsListChanged": True}}
    assert 77 in conn.channel.pending and len(harness.protocol.listeners) == 1


def test_list_changes_reach_only_the_streams_that_asked_for_them() -> None:
    """A tools change reaches a tools stream, tagged; a prompts-only stream hears nothing of it."""
    harness = Harness()
    tools, _ = listen(harness, 1, {"toolsListChanged": True})
    prompts, _ = listen(harness, 2, {"promptsListChanged": True})
    harness.protocol.listeners.list_changed("tools")
    (change,) = tools.sink.take()
    assert change["method"] == "notifications/tools/list_changed" and change["params"]["_meta"][SUB] == 1
    server_frame(change, MODERN_VERSION)
    assert prompts.sink.take() == []
    harness.protocol.listeners.list_changed("prompts")
    assert prompts.sink.take()[0]["method"] == "notifications/prompts/list_changed"


def test_legacy_sessions_hear_of_list_changes_on_their_own_stream() -> None:
    """An initialized session gets notifications/tools/list_changed untagged."""
    harness = Harness()
    conn = harness.connect()
    conn.initialize()
    harness.protocol.listeners.list_changed("tools")
    assert conn.sink.take() == [
        {"jsonrpc": "2.0", "method": "notifications/tools/list_changed", "params": {}}
    ]


def test_closing_a_listen_stream_ends_the_subscription() -> None:
    """The client closes the stream (HTTP) or cancels the request: nothing more is sent."""
    harness = Harness()
    closed, _ = listen(harness, 1, {"toolsListChanged": True})
    cancelled, _ = listen(harness, 2, {"toolsListChanged": True})
    closed.close(cancel=True)
    cancelled.notify("notifications/cancelled", {"requestId": 2})
    harness.protocol.listeners.list_changed("tools")
    assert closed.sink.frames == [] and cancelled.sink.take() == []
    assert len(harness.protocol.listeners) == 0


def test_task_notifications_need_the_extension_and_carry_the_detailed_task() -> None:
    """taskIds without the extension: -32021; with it, notifications/tasks for the watched id."""
    harness = Harness(catalog=tool_catalog())
    _, (refused,) = listen(harness, 1, {"taskIds": ["t"]})
    assert refused["error"]["code"] == -32021
    capabilities = {"extensions": {TASKS_EXTENSION: {}}}
    _, frames = harness.post("c", "tools/call", modern({"name": "slow", "arguments": {}}, capabilities))
    task_id = frames[0]["result"]["taskId"]
    conn, (ack,) = listen(harness, 2, {"taskIds": [task_id]}, capabilities)
    assert ack["params"]["notifications"] == {"taskIds": [task_id]}
    harness.finish(task_id, "done")
    state = TaskState(harness.record(task_id), outcome=harness.store.outcomes[task_id])
    harness.protocol.listeners.task_changed(task_id, detailed_task(state, 1000))
    (note,) = notes(conn.sink.take(), "notifications/tasks")
    assert note["params"]["status"] == "completed" and note["params"]["_meta"][SUB] == 2


def test_a_stream_whose_client_reads_too_slowly_is_ended_with_a_cancellation() -> None:
    """Past the backlog the server cancels the subscription and ends the stream."""
    harness = Harness(exai_listen_max_backlog=1)
    conn, _ = listen(harness, 9, {"toolsListChanged": True})
    conn.sink.backlog = 2
    harness.protocol.listeners.list_changed("tools")
    (cancelled,) = conn.sink.take()
    assert cancelled["method"] == "notifications/cancelled" and cancelled["params"]["requestId"] == 9
    assert conn.sink.ended and len(harness.protocol.listeners) == 0


def test_when_the_gateway_stops_each_stream_gets_its_graceful_end() -> None:
    """A completion result naming the subscription, then nothing."""
    harness = Harness()
    conn, _ = listen(harness, 4, {"toolsListChanged": True})
    harness.protocol.listeners.close_all(harness.protocol.replies)
    (end,) = conn.sink.take()
    assert end["id"] == 4 and end["result"]["resultType"] == "complete" and end["result"]["_meta"][SUB] == 4


def test_a_full_gateway_refuses_more_listen_streams() -> None:
    """EXAI_LISTEN_MAX_STREAMS bounds them: -32000 naming the limit."""
    harness = Harness(exai_listen_max_streams=1)
    listen(harness, 1, {"toolsListChanged": True})
    _, (refused,) = listen(harness, 2, {"toolsListChanged": True})
    assert refused["error"]["code"] == -32000 and refused["error"]["data"]["limit"] == "listen_streams"


def test_legacy_resource_subscriptions_are_accepted() -> None:
    """resources/subscribe and unsubscribe answer {} on a 2025 session (the resources never change)."""
    conn = Harness().connect()
    conn.initialize()
    for n, method in enumerate(("resources/subscribe", "resources/unsubscribe")):
        assert conn.request(n, method, {"uri": "test://watched-resource"})[0]["result"] == {}
