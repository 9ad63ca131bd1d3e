"""The old protocol's pure parts: frame parsing, who may say hello, result frames."""

from __future__ import annotations

import pytest
from websockets.datastructures import Headers
from websockets.http11 import Request

from contracts.job import Outcome
from gateway.transports.daemon import may_say_hello
from gateway.transports.daemon_frames import (
    CLOSE_INVALID_JSON,
    BadFrame,
    ProtocolViolation,
    error_frame,
    hello_identity,
    is_hello,
    parse,
    result_frame,
)


def request(path: str = "/", **headers: str) -> Request:
    return Request(path, Headers(**headers))


def test_only_an_op_hello_object_opens_the_old_protocol() -> None:
    """JSON-RPC initialize, other ops and garbage are not hellos."""
    assert is_hello('{"op": "hello", "token": "x"}')
    assert not is_hello('{"jsonrpc": "2.0", "id": 0, "method": "initialize"}')
    assert not is_hello('{"op": "list_tools"}')
    assert not is_hello("not json")


def test_invalid_json_and_non_objects_are_protocol_violations_closing_4000() -> None:
    """The old daemon closed with 4000 on frames it could not read."""
    for bad in ("{nope", "[1, 2]", '"text"'):
        with pytest.raises(ProtocolViolation) as caught:
            parse(bad)
        assert caught.value.code == CLOSE_INVALID_JSON


def test_handshakes_without_credentials_or_mcp_subprotocol_may_say_hello() -> None:
    """Old clients carry the token in hello; MCP clients (subprotocol mcp) and callers that sent a
    token keep getting the handshake's 401."""
    assert may_say_hello(request())
    assert not may_say_hello(request(**{"Sec-WebSocket-Protocol": "mcp"}))
    assert not may_say_hello(request(Authorization="Bearer wrong"))
    assert not may_say_hello(request("/?token=wrong"))


def test_the_hello_token_wins_over_the_handshake_identity() -> None:
    """A token in hello is checked; without one, the handshake's identity stands."""
    identify = {"good-token": "alice"}.get
    assert hello_identity({"op": "hello", "token": "good-token"}, None, identify) == "alice"
    assert hello_identity({"op": "hello", "token": "bad"}, "bob", identify) is None
    assert hello_identity({"op": "hello"}, "bob", identify) == "bob"
    assert hello_identity({"op": "hello"}, None, identify) is None


def test_results_carry_outputs_text_and_an_error_code_when_they_failed() -> None:
    """call_tool_res: outputs and text always; error {code, message} for failures, mapped to old codes."""
    ok = result_frame("r1", Outcome(call_id="c", text="answer"))
    assert ok == {
        "op": "call_tool_res",
        "request_id": "r1",
        "outputs": [{"type": "text", "text": "answer"}],
        "text": "answer",
    }
    failed = result_frame(
        2, Outcome(call_id="c", text="too slow", is_error=True, error_code="RETRIES_EXHAUSTED")
    )
    assert failed["error"] == {"code": "PROVIDER_ERROR", "message": "too slow"}
    assert failed["request_id"] == 2


def test_every_error_frame_names_its_request() -> None:
    """Errors carry request_id (the old daemon's missing ids made clients hang)."""
    frame = error_frame("x", "TOOL_NOT_FOUND", "unknown tool 'nope'", op="call_tool_res")
    assert frame["request_id"] == "x" and frame["error"]["code"] == "TOOL_NOT_FOUND"
    assert frame["outputs"] == [] and frame["text"] == "unknown tool 'nope'"


@pytest.mark.parametrize(
    ("frame", "request_id", "where"),
    [
        ('{"op":"call_tool","request_id":"r","name":"\\ud800"}', "r", "name"),
        ('{"op":"call_tool","request_id":7,"arguments":{"prompt":"a\\udfff"}}', 7, "arguments.prompt"),
        ('{"op":"pi\\ud800ng","request_id":"r"}', "r", "op"),
        ('{"op":"ping","request_id":"r\\ud800"}', None, "request_id"),
    ],
)
def test_a_lone_surrogate_anywhere_is_a_bad_frame_answered_under_a_sound_request_id(
    frame: str, request_id: object, where: str
) -> None:
    """Not a reason to close: the frame is refused, naming where, with its request_id if sound."""
    with pytest.raises(BadFrame) as caught:
        parse(frame)
    assert caught.value.request_id == request_id and where in caught.value.reason
    assert caught.value.op in ("call_tool", "ping", None)


def test_a_request_id_that_cannot_be_echoed_is_a_bad_frame_without_one() -> None:
    """NaN, Infinity and objects cannot go back in JSON; strings, numbers and null can."""
    for frame in (
        '{"op":"ping","request_id":NaN}',
        '{"op":"ping","request_id":-Infinity}',
        '{"op":"ping","request_id":{}}',
    ):
        with pytest.raises(BadFrame) as caught:
            parse(frame)
        assert caught.value.request_id is None and caught.value.op == "ping"
    assert parse('{"op":"ping","request_id":1.5}')["request_id"] == 1.5


def test_a_hello_with_a_lone_surrogate_is_still_recognised_as_a_hello() -> None:
    """So an old client gets the old protocol's refusal, not an MCP error."""
    assert is_hello('{"op":"hello","session_id":"\\ud800"}')
    assert not is_hello('{"op":"he\\ud800llo"}')
