"""The stdio bridge's forwarding rules, without sockets."""

from __future__ import annotations

import time
from typing import Any

from bridge.relay import LOST_CALL, RELATED_TASK, Relay

TASKS = {"tasks": {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}}


def initialized(relay: Relay, capabilities: dict[str, Any]) -> None:
    relay.reconnected()
    out = relay.from_client({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"v": 1}})
    gid = out.to_gateway[0]["id"]
    answer = relay.from_gateway({"jsonrpc": "2.0", "id": gid, "result": {"capabilities": capabilities}})
    assert answer.to_client == [{"jsonrpc": "2.0", "id": 0, "result": {"capabilities": capabilities}}]


def call(relay: Relay, client_id: Any = 7) -> dict[str, Any]:
    out = relay.from_client(
        {
            "jsonrpc": "2.0",
            "id": client_id,
            "method": "tools/call",
            "params": {"name": "chat", "arguments": {}},
        }
    )
    return out.to_gateway[0]


def test_client_ids_are_mapped_to_the_bridges_own_and_back() -> None:
    """The gateway sees bridge ids; the client gets its own id back, 0 included."""
    relay = Relay()
    initialized(relay, {})
    frame = call(relay, client_id=0)
    assert frame["id"] != 0 and "task" not in frame["params"]
    out = relay.from_gateway({"jsonrpc": "2.0", "id": frame["id"], "result": {"content": []}})
    assert out.to_client == [{"jsonrpc": "2.0", "id": 0, "result": {"content": []}}]


def test_calls_run_as_tasks_when_offered_and_are_awaited_again_after_a_reconnect() -> None:
    """A task-capable gateway gets task calls; after a drop the bridge re-initializes and asks
    tasks/result, and the client receives the plain result under its own id."""
    relay = Relay(task_ttl_ms=5000)
    initialized(relay, TASKS)
    frame = call(relay)
    assert frame["params"]["task"] == {"ttl": 5000}
    out = relay.from_gateway({"jsonrpc": "2.0", "id": frame["id"], "result": {"task": {"taskId": "t1"}}})
    assert out.to_client == []
    assert out.to_gateway[0]["method"] == "tasks/result"
    relay.disconnected()
    again = relay.reconnected()
    methods = [m.get("method") for m in again.to_gateway]
    assert methods == ["initialize", "notifications/initialized", "tasks/result"]
    wait = again.to_gateway[2]
    assert wait["params"] == {"taskId": "t1"}
    result = {"content": [], "_meta": {RELATED_TASK: {"taskId": "t1"}, "x": 1}}
    done = relay.from_gateway({"jsonrpc": "2.0", "id": wait["id"], "result": result})
    assert done.to_client == [{"jsonrpc": "2.0", "id": 7, "result": {"content": [], "_meta": {"x": 1}}}]


def test_a_call_lost_without_tasks_gets_an_error_result_and_other_requests_are_sent_again() -> None:
    """Without tasks the outcome is unknowable, so the client hears so; a tools/list is re-sent."""
    relay = Relay()
    initialized(relay, {})
    call(relay)
    relay.from_client({"jsonrpc": "2.0", "id": 8, "method": "tools/list", "params": {}})
    relay.disconnected()
    again = relay.reconnected()
    assert again.to_client[0]["id"] == 7
    assert again.to_client[0]["result"]["content"][0]["text"] == LOST_CALL
    assert [m.get("method") for m in again.to_gateway] == [
        "initialize",
        "notifications/initialized",
        "tools/list",
    ]


def test_cancelling_a_task_call_cancels_the_task() -> None:
    """notifications/cancelled for a call the bridge runs as a task becomes tasks/cancel."""
    relay = Relay()
    initialized(relay, TASKS)
    frame = call(relay)
    relay.from_gateway({"jsonrpc": "2.0", "id": frame["id"], "result": {"task": {"taskId": "t9"}}})
    out = relay.from_client(
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 7}}
    )
    assert out.to_gateway[0]["method"] == "tasks/cancel"
    assert out.to_gateway[0]["params"] == {"taskId": "t9"}
    assert not relay.pending


def test_messages_sent_while_disconnected_wait_for_the_connection() -> None:
    """Nothing is written to a missing connection; it all goes out, in order, on connect."""
    relay = Relay()
    out = relay.from_client({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}})
    assert out.to_gateway == []
    relay.from_client({"jsonrpc": "2.0", "method": "notifications/initialized"})
    again = relay.reconnected()
    assert [m.get("method") for m in again.to_gateway] == ["initialize", "notifications/initialized"]


def test_status_notifications_of_the_bridges_own_tasks_are_not_forwarded() -> None:
    """The client made a plain call; it hears nothing about the task behind it."""
    relay = Relay()
    initialized(relay, TASKS)
    frame = call(relay)
    relay.from_gateway({"jsonrpc": "2.0", "id": frame["id"], "result": {"task": {"taskId": "t2"}}})
    status = {"jsonrpc": "2.0", "method": "notifications/tasks/status", "params": {"taskId": "t2"}}
    assert relay.from_gateway(status).to_client == []
    other = {"jsonrpc": "2.0", "method": "notifications/tasks/status", "params": {"taskId": "client-task"}}
    assert relay.from_gateway(other).to_client == [other]


def test_quiet_calls_get_heartbeats_from_the_bridge_and_progress_keeps_growing() -> None:
    """A call with a progress token that hears nothing for a while gets a bridge heartbeat; a later
    gateway value that would go backwards is raised above it."""
    relay = Relay()
    initialized(relay, {})
    params = {"name": "chat", "arguments": {}, "_meta": {"progressToken": "p"}}
    frame = relay.from_client(
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": params}
    ).to_gateway[0]
    progress = {
        "jsonrpc": "2.0",
        "method": "notifications/progress",
        "params": {"progressToken": "p", "progress": 4},
    }
    assert relay.from_gateway(progress).to_client[0]["params"]["progress"] == 4
    assert relay.heartbeats(quiet_s=10) == []
    relay.disconnected()
    beat = relay.heartbeats(quiet_s=10, now=time.monotonic() + 11)
    assert beat[0]["params"] == {
        "progressToken": "p",
        "progress": 5.0,
        "message": "reconnecting to the gateway",
    }
    again = {
        "jsonrpc": "2.0",
        "method": "notifications/progress",
        "params": {"progressToken": "p", "progress": 1},
    }
    assert relay.from_gateway(again).to_client[0]["params"]["progress"] == 6.0
    assert frame["id"] in relay.pending


MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
}
EXTENSION = "io.modelcontextprotocol/tasks"


def modern_call(relay: Relay, client_id: Any = 3, **capabilities: Any) -> dict[str, Any]:
    meta = {**MODERN_META, "io.modelcontextprotocol/clientCapabilities": capabilities, "progressToken": "p"}
    out = relay.from_client(
        {
            "jsonrpc": "2.0",
            "id": client_id,
            "method": "tools/call",
            "params": {"name": "chat", "arguments": {}, "_meta": meta},
        }
    )
    return out.to_gateway[0]


def test_a_modern_probe_and_requests_pass_through_with_nothing_to_replay() -> None:
    """server/discover goes to the gateway as it is; no initialize is replayed on reconnect."""
    relay = Relay()
    relay.reconnected()
    out = relay.from_client(
        {"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": MODERN_META}}
    )
    assert (
        out.to_gateway[0]["method"] == "server/discover"
        and out.to_gateway[0]["params"]["_meta"] == MODERN_META
    )
    answer = relay.from_gateway(
        {"jsonrpc": "2.0", "id": out.to_gateway[0]["id"], "result": {"supportedVersions": []}}
    )
    assert answer.to_client[0]["id"] == 1
    relay.disconnected()
    assert relay.reconnected().to_gateway == []


def test_a_modern_call_runs_as_the_bridges_task_and_is_answered_plainly_when_it_ends() -> None:
    """The extension and the preferTask hint are added; the CreateTaskResult stays with the bridge;
    progress passes through; notifications/tasks of its end answers the client under its own id."""
    relay = Relay()
    relay.reconnected()
    frame = modern_call(relay)
    meta = frame["params"]["_meta"]
    assert meta["io.exai/preferTask"] is True
    assert meta["io.modelcontextprotocol/clientCapabilities"]["extensions"] == {EXTENSION: {}}
    created = relay.from_gateway(
        {"jsonrpc": "2.0", "id": frame["id"], "result": {"resultType": "task", "taskId": "t9"}}
    )
    assert created.to_client == [] and created.to_gateway == []
    progress = {
        "jsonrpc": "2.0",
        "method": "notifications/progress",
        "params": {"progressToken": "p", "progress": 1},
    }
    assert relay.from_gateway(progress).to_client == [progress]
    result = {"resultType": "complete", "content": [{"type": "text", "text": "hi"}], "isError": False}
    done = relay.from_gateway(
        {
            "jsonrpc": "2.0",
            "method": "notifications/tasks",
            "params": {"taskId": "t9", "status": "completed", "result": result},
        }
    )
    assert done.to_client == [{"jsonrpc": "2.0", "id": 3, "result": result}]


def test_a_modern_client_handling_tasks_or_input_itself_gets_plain_forwarding() -> None:
    """Declaring the extension or an input capability: no hint, the call as the client sent it."""
    for capabilities in ({"extensions": {EXTENSION: {}}}, {"elicitation": {}}):
        relay = Relay()
        relay.reconnected()
        frame = modern_call(relay, **capabilities)
        assert "io.exai/preferTask" not in frame["params"]["_meta"]


def test_after_a_reconnect_the_bridge_watches_its_tasks_again_and_asks_each_once() -> None:
    """subscriptions/listen with the task ids, then tasks/get; a task that ended answers the client;
    the listen stream's own notes never reach it."""
    relay = Relay()
    relay.reconnected()
    frame = modern_call(relay)
    relay.from_gateway(
        {"jsonrpc": "2.0", "id": frame["id"], "result": {"resultType": "task", "taskId": "t1"}}
    )
    relay.disconnected()
    again = relay.reconnected().to_gateway
    listen, ask = again
    assert listen["method"] == "subscriptions/listen" and listen["params"]["notifications"] == {
        "taskIds": ["t1"]
    }
    assert ask["method"] == "tasks/get" and ask["params"]["taskId"] == "t1"
    ack = {
        "jsonrpc": "2.0",
        "method": "notifications/subscriptions/acknowledged",
        "params": {"_meta": {"io.modelcontextprotocol/subscriptionId": listen["id"]}},
    }
    assert relay.from_gateway(ack).to_client == []
    failed = {"taskId": "t1", "status": "failed", "error": {"code": -32603, "message": "boom"}}
    out = relay.from_gateway({"jsonrpc": "2.0", "id": ask["id"], "result": failed})
    assert out.to_client == [{"jsonrpc": "2.0", "id": 3, "error": {"code": -32603, "message": "boom"}}]


def test_cancelling_a_modern_call_cancels_the_bridges_task() -> None:
    """notifications/cancelled from the client becomes a modern tasks/cancel of the task."""
    relay = Relay()
    relay.reconnected()
    frame = modern_call(relay)
    relay.from_gateway(
        {"jsonrpc": "2.0", "id": frame["id"], "result": {"resultType": "task", "taskId": "t2"}}
    )
    out = relay.from_client(
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 3}}
    )
    (cancel,) = out.to_gateway
    assert cancel["method"] == "tasks/cancel" and cancel["params"]["taskId"] == "t2"
    assert cancel["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] == "2026-07-28"


def test_a_listen_streams_notes_name_the_clients_own_request_id() -> None:
    """The gateway tags them with the bridge's id; the client gets its own (acknowledgement and
    a server cancellation alike)."""
    relay = Relay()
    relay.reconnected()
    out = relay.from_client(
        {
            "jsonrpc": "2.0",
            "id": 41,
            "method": "subscriptions/listen",
            "params": {"notifications": {}, "_meta": MODERN_META},
        }
    )
    gid = out.to_gateway[0]["id"]
    ack = {
        "jsonrpc": "2.0",
        "method": "notifications/subscriptions/acknowledged",
        "params": {"_meta": {"io.modelcontextprotocol/subscriptionId": gid}, "notifications": {}},
    }
    (seen,) = relay.from_gateway(ack).to_client
    assert seen["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == 41
    cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": gid}}
    assert relay.from_gateway(cancel).to_client[0]["params"]["requestId"] == 41
