"""The dispatcher: one answer per request, the error boundary, removed methods, the modern stamp."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.core.dispatch import Method
from tests.gateway.core.memory import LEGACY_VERSION, MODERN_VERSION, Harness, modern, settle
from tests.support.mcp_types_oracle import server_result


@pytest.fixture
def harness() -> Harness:
    return Harness()


def test_malformed_frames_are_answered_and_the_connection_goes_on(harness: Harness) -> None:
    """Garbage gets an error answer; the next good request still works."""
    conn = harness.connect()
    codes = [conn.send(frame)[0].get("error", {}).get("code") for frame in ("{oops", "[]", '"x"')]
    assert codes == [-32700, -32600, -32600]
    assert conn.request(9, "ping")[0]["result"] == {}


def test_an_unknown_method_is_method_not_found_and_an_unknown_notification_is_ignored(
    harness: Harness,
) -> None:
    """-32601 naming the method; an unknown notification gets nothing."""
    conn = harness.connect()
    conn.initialize()
    assert conn.notify("notifications/whatever") == []
    (answer,) = conn.request("x", "nope/nothing")
    assert answer["error"]["code"] == -32601 and "nope/nothing" in answer["error"]["message"]


@pytest.mark.parametrize(
    "method",
    [
        "ping",
        "logging/setLevel",
        "resources/subscribe",
        "resources/unsubscribe",
        "tasks/result",
        "tasks/list",
    ],
)
def test_methods_removed_in_2026_are_not_found_for_a_modern_request_with_status_404(
    harness: Harness, method: str
) -> None:
    """A modern request to a removed method: -32601 with its id, 404 on Streamable HTTP."""
    conn, (answer,) = harness.post(500, method, modern())
    assert answer["id"] == 500 and answer["error"]["code"] == -32601
    assert conn.sink.status == 404


def test_an_id_already_waiting_is_refused(harness: Harness) -> None:
    """A second request reusing the id of one in flight is -32600; the first is unaffected."""
    conn = harness.connect()
    conn.initialize()
    call = {"name": "version", "arguments": {}}
    assert conn.request(1, "tools/call", call) == []
    (refused,) = conn.request(1, "tools/call", call)
    assert refused["error"]["code"] == -32600
    harness.finish(harness.last_job().call_id, "v")
    (answer,) = conn.sink.take()
    assert answer["id"] == 1 and answer["result"]["isError"] is False


def test_a_handler_that_raises_unexpectedly_gets_exactly_one_internal_error(harness: Harness) -> None:
    """The error boundary: -32603 naming the method, once; the connection goes on."""

    def broken(ctx: Any, params: dict[str, Any]) -> Any:
        raise KeyError("surprise")

    harness.protocol.core.methods["tools/list"] = Method(broken)
    conn = harness.connect()
    conn.initialize()
    (answer,) = conn.request(2, "tools/list")
    assert answer["error"]["code"] == -32603 and "tools/list" in answer["error"]["message"]
    assert conn.request(3, "ping")[0]["result"] == {}


@pytest.mark.anyio
async def test_a_short_coroutine_that_raises_gets_one_internal_error_and_frees_its_place() -> None:
    """An async handler's unexpected failure is one -32603; it no longer counts as outstanding."""
    harness = Harness()

    async def broken(ctx: Any, params: dict[str, Any]) -> Any:
        raise RuntimeError("surprise")

    harness.protocol.core.methods["tasks/get"] = Method(broken)
    conn = harness.connect()
    conn.initialize()
    assert conn.request("g", "tasks/get", {"taskId": "t"}) == []
    assert conn.channel.pending
    await settle()
    (answer,) = conn.sink.take()
    assert answer["id"] == "g" and answer["error"]["code"] == -32603
    assert not conn.channel.pending and harness.limits.pending == {}


@pytest.mark.anyio
async def test_requests_past_the_session_cap_are_refused_with_a_retry_after_naming_the_limit() -> None:
    """Two waits fill a cap of two; the third is -32000 naming session_pending; ping still answers."""
    harness = Harness(exai_session_max_pending=2)
    conn = harness.connect()
    conn.initialize()
    for n in (1, 2):
        assert conn.request(n, "tools/call", {"name": "version", "arguments": {}}) == []
    (refused,) = conn.request(3, "tools/call", {"name": "version", "arguments": {}})
    assert refused["error"]["code"] == -32000
    assert (
        refused["error"]["data"]["limit"] == "session_pending" and refused["error"]["data"]["retryAfter"] > 0
    )
    assert conn.request(4, "ping")[0]["result"] == {}
    harness.finish(harness.calls.jobs[0].call_id)
    assert conn.sink.take()[0]["id"] == 1
    assert conn.request(5, "tools/call", {"name": "version", "arguments": {}}) == []


def test_every_modern_result_carries_result_type_and_the_server_info_stamp(harness: Harness) -> None:
    """resultType complete and _meta serverInfo on discover, tools/list and a call's result."""
    _, (discovered,) = harness.post(1, "server/discover", modern())
    _, (listed,) = harness.post(2, "tools/list", modern())
    conn, _frames = harness.post(3, "tools/call", modern({"name": "version", "arguments": {}}))
    harness.finish(harness.last_job().call_id, "v")
    (called,) = conn.sink.take()
    for method, answer in (("server/discover", discovered), ("tools/list", listed), ("tools/call", called)):
        result = answer["result"]
        assert result["resultType"] == "complete"
        assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "exai-mcp"
        server_result(method, MODERN_VERSION, result)


def test_legacy_results_carry_no_result_type(harness: Harness) -> None:
    """A 2025 session's answers are 2025-shaped."""
    conn = harness.connect()
    conn.initialize()
    (listed,) = conn.request(1, "tools/list")
    assert "resultType" not in listed["result"]
    server_result("tools/list", LEGACY_VERSION, listed["result"])


def test_cancelling_an_unknown_request_is_ignored(harness: Harness) -> None:
    """notifications/cancelled for nothing in flight sends nothing."""
    conn = harness.connect()
    conn.initialize()
    assert conn.notify("notifications/cancelled", {"requestId": 99}) == []


class Metering:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []

    def request(self, method: str, status: str, duration: float) -> None:
        self.requests.append((method, status))

    def call(self, **_: Any) -> None: ...

    def error(self, error_type: str) -> None: ...


def test_every_answer_is_metered_once_by_method_and_status_with_bounded_labels(harness: Harness) -> None:
    """A result is ok, an error is error, an invented method shares one label; a second answer to
    the same request is dropped, never sent nor metered."""
    metering = Metering()
    harness.protocol.replies.telemetry = metering
    conn = harness.connect()
    conn.initialize()
    conn.request(1, "tools/list", {"cursor": 5})
    conn.request(2, "x/" + "y" * 50)
    assert metering.requests == [("initialize", "ok"), ("tools/list", "error"), ("other", "error")]
    conn.request(3, "tools/call", {"name": "version", "arguments": {}})
    call_id = harness.last_job().call_id
    harness.finish(call_id, "v")
    route_ctx_answers = conn.sink.take()
    harness.protocol.inflight.complete(call_id, harness.store.outcomes[call_id])
    assert len(route_ctx_answers) == 1 and conn.sink.take() == []
    assert metering.requests[-1] == ("tools/call", "ok") and len(metering.requests) == 4


def test_a_lone_surrogate_in_a_tool_name_or_task_id_is_refused_with_the_request_id(harness: Harness) -> None:
    """The request gets one -32602 naming where; an id holding one gets -32600 without an id."""
    conn = harness.connect()
    conn.initialize()
    answers = [
        conn.send(
            '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"\\ud800","arguments":{}}}'
        )[0],
        conn.send('{"jsonrpc":"2.0","id":2,"method":"tasks/result","params":{"taskId":"ab\\udfffc"}}')[0],
        conn.send('{"jsonrpc":"2.0","id":"\\ud800","method":"ping"}')[0],
    ]
    assert [(a["id"], a["error"]["code"]) for a in answers] == [(1, -32602), (2, -32602), (None, -32600)]
    assert "params.name" in answers[0]["error"]["message"] and "taskId" in answers[1]["error"]["message"]


def test_every_method_the_core_serves_has_a_metric_label_of_its_own(harness: Harness) -> None:
    """contracts.events.MCP_METHODS bounds the method label: each served method is in it."""
    from contracts.events import MCP_METHODS

    assert set(harness.protocol.core.methods) <= MCP_METHODS
