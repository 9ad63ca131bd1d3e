"""MCP dispatch for one session, without sockets or a queue (no call here reaches the broker)."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

import pytest

from contracts.tools import SPECS
from gateway.calls import CallBroker
from gateway.session import LATEST_PROTOCOL, Session
from gateway.tool_catalog import ToolCatalog


async def _noop_send(_: str) -> None:
    return None


def make_session(page_size: int = 100) -> Session:
    return Session(cast(CallBroker, None), ToolCatalog(page_size=page_size), "tester", _noop_send)


def exchange(session: Session, *frames: Any) -> list[dict[str, Any]]:
    for frame in frames:
        session.handle(frame if isinstance(frame, str | bytes) else json.dumps(frame))
    out = []
    while not session._outbox.empty():
        out.append(json.loads(session._outbox.get_nowait()))
    return out


def request(msg_id: Any, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
    if params is not None:
        body["params"] = params
    return body


INIT = request(
    0,
    "initialize",
    {"protocolVersion": LATEST_PROTOCOL, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
)


@pytest.fixture
def session() -> Session:
    # Session builds an asyncio.Queue, which wants a current event loop on 3.11 only lazily.
    return make_session()


def test_initialize_answers_with_the_requested_supported_version(session: Session) -> None:
    """A client asking for 2025-06-18 gets 2025-06-18."""
    (answer,) = exchange(session, request(0, "initialize", {"protocolVersion": "2025-06-18"}))
    assert answer["id"] == 0
    assert answer["result"]["protocolVersion"] == "2025-06-18"
    assert answer["result"]["capabilities"]["tools"] == {"listChanged": False}
    assert answer["result"]["serverInfo"]["name"] == "exai-mcp"


def test_initialize_with_an_unknown_version_offers_the_latest(session: Session) -> None:
    """The spec lets the client decide what to do with our newest version."""
    (answer,) = exchange(session, request(1, "initialize", {"protocolVersion": "1999-01-01"}))
    assert answer["result"]["protocolVersion"] == LATEST_PROTOCOL


def test_initialize_without_a_version_is_invalid_params(session: Session) -> None:
    """protocolVersion is required."""
    (answer,) = exchange(session, request(1, "initialize", {}))
    assert answer["error"]["code"] == -32602


def test_requests_before_initialize_are_refused_but_ping_works(session: Session) -> None:
    """Only ping and the discover probe are answered before initialize."""
    ping, listing, discover = exchange(
        session, request(1, "ping"), request(2, "tools/list"), request(3, "server/discover")
    )
    assert ping == {"jsonrpc": "2.0", "id": 1, "result": {}}
    assert listing["error"]["code"] == -32600
    assert discover["error"]["code"] == -32601


def test_server_discover_is_method_not_found_even_after_initialize(session: Session) -> None:
    """The 2026 clients' probe must fail cleanly so they fall back to initialize."""
    answers = exchange(session, INIT, request(1, "server/discover"))
    assert answers[1]["error"]["code"] == -32601


def test_unknown_method_is_method_not_found_and_unknown_notification_is_ignored(session: Session) -> None:
    """Unknown requests get -32601; unknown notifications get nothing."""
    answers = exchange(
        session, INIT, {"jsonrpc": "2.0", "method": "notifications/whatever"}, request("x", "resources/list")
    )
    assert len(answers) == 2
    assert answers[1] == {
        "jsonrpc": "2.0",
        "id": "x",
        "error": {"code": -32601, "message": "Method not found: resources/list"},
    }


def test_tools_list_pages_with_a_cursor_until_every_tool_is_seen() -> None:
    """With one tool per page, following nextCursor visits every tool once."""
    session = make_session(page_size=1)
    exchange(session, INIT)
    seen: list[str] = []
    cursor = None
    for i in range(len(SPECS) + 1):
        params = {"cursor": cursor} if cursor else {}
        (answer,) = exchange(session, request(i + 10, "tools/list", params))
        seen += [tool["name"] for tool in answer["result"]["tools"]]
        cursor = answer["result"].get("nextCursor")
        if cursor is None:
            break
    assert seen == list(SPECS)


def test_tools_list_rejects_a_forged_cursor(session: Session) -> None:
    """A cursor we did not issue is invalid params."""
    answers = exchange(session, INIT, request(1, "tools/list", {"cursor": "bm9wZQ=="}))
    assert answers[1]["error"]["code"] == -32602


def test_listed_tools_carry_schemas_and_annotations(session: Session) -> None:
    """Every tool has an object input schema, an output schema and annotations."""
    answers = exchange(session, INIT, request(1, "tools/list"))
    for tool in answers[1]["result"]["tools"]:
        assert tool["inputSchema"]["type"] == "object"
        assert tool["outputSchema"]["type"] == "object"
        assert "readOnlyHint" in tool["annotations"]


def test_unknown_tool_is_invalid_params(session: Session) -> None:
    """Calling a tool that does not exist is a protocol error, -32602."""
    answers = exchange(session, INIT, request(1, "tools/call", {"name": "nope", "arguments": {}}))
    assert answers[1]["error"]["code"] == -32602
    assert "nope" in answers[1]["error"]["message"]


def test_bad_arguments_are_an_error_result_naming_the_problem(session: Session) -> None:
    """Schema violations come back as isError results, before anything is queued."""
    answers = exchange(
        session, INIT, request(1, "tools/call", {"name": "chat", "arguments": {"temperature": 7}})
    )
    result = answers[1]["result"]
    assert result["isError"] is True
    text = result["content"][0]["text"]
    assert "'prompt' is a required property" in text
    assert "temperature" in text


def test_arguments_that_are_not_an_object_are_an_error_result(session: Session) -> None:
    """arguments must be an object."""
    answers = exchange(session, INIT, request(1, "tools/call", {"name": "chat", "arguments": [1]}))
    assert answers[1]["result"]["isError"] is True


def test_set_level_accepts_known_levels_and_rejects_others(session: Session) -> None:
    """logging/setLevel validates the level."""
    answers = exchange(
        session,
        INIT,
        request(1, "logging/setLevel", {"level": "debug"}),
        request(2, "logging/setLevel", {"level": "loud"}),
    )
    assert answers[1]["result"] == {}
    assert answers[2]["error"]["code"] == -32602
    assert session.log_level == "debug"


def test_malformed_frames_are_answered_and_the_session_goes_on(session: Session) -> None:
    """Garbage gets an error answer; the next good request still works."""
    answers = exchange(session, "{oops", b"\x00\x01", "[]", request(9, "ping"))
    assert [a.get("error", {}).get("code") for a in answers] == [-32700, -32700, -32600, None]
    assert answers[3]["result"] == {}


def test_cancel_for_an_unknown_request_is_ignored(session: Session) -> None:
    """Cancelling something not in flight sends nothing."""
    answers = exchange(
        session, INIT, {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 99}}
    )
    assert len(answers) == 1


def test_session_works_inside_a_running_loop() -> None:
    """The session is used from the gateway's event loop."""

    async def main() -> list[dict[str, Any]]:
        return exchange(make_session(), INIT)

    assert asyncio.run(main())[0]["id"] == 0
