"""JSON-RPC framing, without sockets."""

from __future__ import annotations

import json

import pytest

from gateway import jsonrpc
from gateway.jsonrpc import DecodeError, Notification, Request, Response


def test_request_with_id_zero_is_a_request() -> None:
    """0 is a valid id (clients start there)."""
    message = jsonrpc.decode('{"jsonrpc":"2.0","id":0,"method":"ping"}')
    assert message == Request(id=0, method="ping", params={})


def test_string_id_and_params_are_kept() -> None:
    """String ids and object params pass through unchanged."""
    message = jsonrpc.decode('{"jsonrpc":"2.0","id":"a","method":"tools/list","params":{"cursor":"x"}}')
    assert message == Request(id="a", method="tools/list", params={"cursor": "x"})


def test_message_without_id_is_a_notification() -> None:
    """A message with no id expects no answer."""
    message = jsonrpc.decode('{"jsonrpc":"2.0","method":"notifications/initialized"}')
    assert message == Notification(method="notifications/initialized", params={})


def test_client_response_is_recognised() -> None:
    """Answers to the server's own requests are not mistaken for requests."""
    assert jsonrpc.decode('{"jsonrpc":"2.0","id":5,"result":{}}') == Response(id=5, result={})


@pytest.mark.parametrize(
    ("frame", "code", "msg_id"),
    [
        ("{not json", jsonrpc.PARSE_ERROR, None),
        ("", jsonrpc.PARSE_ERROR, None),
        ("[" * 100_000 + "]" * 100_000, jsonrpc.PARSE_ERROR, None),
        ("[]", jsonrpc.INVALID_REQUEST, None),
        ("42", jsonrpc.INVALID_REQUEST, None),
        ('{"jsonrpc":"1.0","id":3,"method":"ping"}', jsonrpc.INVALID_REQUEST, 3),
        ('{"jsonrpc":"2.0","id":null,"method":"ping"}', jsonrpc.INVALID_REQUEST, None),
        ('{"jsonrpc":"2.0","id":1.5,"method":"ping"}', jsonrpc.INVALID_REQUEST, None),
        ('{"jsonrpc":"2.0","id":true,"method":"ping"}', jsonrpc.INVALID_REQUEST, None),
        ('{"jsonrpc":"2.0","id":7}', jsonrpc.INVALID_REQUEST, 7),
        ('{"jsonrpc":"2.0","id":7,"method":5}', jsonrpc.INVALID_REQUEST, 7),
        ('{"jsonrpc":"2.0","id":8,"method":"ping","params":[1]}', jsonrpc.INVALID_PARAMS, 8),
    ],
)
def test_bad_frames_raise_the_right_code_and_keep_a_readable_id(
    frame: str, code: int, msg_id: object
) -> None:
    """Each malformed frame maps to its JSON-RPC error code, with the id when it could be read."""
    with pytest.raises(DecodeError) as caught:
        jsonrpc.decode(frame)
    assert caught.value.code == code
    assert caught.value.id == msg_id


def test_encoders_produce_valid_jsonrpc() -> None:
    """Results, errors and notifications are JSON-RPC 2.0 objects."""
    assert json.loads(jsonrpc.result(0, {})) == {"jsonrpc": "2.0", "id": 0, "result": {}}
    assert json.loads(jsonrpc.error(None, -32700, "Parse error")) == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32700, "message": "Parse error"},
    }
    assert json.loads(jsonrpc.error(1, -32602, "bad", {"x": 1}))["error"]["data"] == {"x": 1}
    assert json.loads(jsonrpc.notification("n", {"a": 1})) == {
        "jsonrpc": "2.0",
        "method": "n",
        "params": {"a": 1},
    }
