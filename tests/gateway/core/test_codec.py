"""JSON-RPC framing and the per-request envelope, without sockets."""

from __future__ import annotations

import json

import pytest

from gateway.core import codec
from gateway.core.codec import DecodeError, Notification, Request, Response


def test_request_with_id_zero_is_a_request() -> None:
    """0 is a valid id (clients start there)."""
    message = codec.decode('{"jsonrpc":"2.0","id":0,"method":"ping"}')
    assert message == Request(id=0, method="ping", params={})


def test_string_id_and_params_are_kept() -> None:
    """String ids and object params pass through unchanged."""
    message = codec.decode('{"jsonrpc":"2.0","id":"a","method":"tools/list","params":{"cursor":"x"}}')
    assert message == Request(id="a", method="tools/list", params={"cursor": "x"})


def test_message_without_id_is_a_notification() -> None:
    """A message with no id expects no answer."""
    message = codec.decode('{"jsonrpc":"2.0","method":"notifications/initialized"}')
    assert message == Notification(method="notifications/initialized", params={})


def test_client_response_is_recognised() -> None:
    """Answers to the server's own requests are not mistaken for requests."""
    assert codec.decode('{"jsonrpc":"2.0","id":5,"result":{}}') == Response(id=5, result={})


@pytest.mark.parametrize(
    ("frame", "code", "msg_id"),
    [
        ("{not json", codec.PARSE_ERROR, None),
        ("", codec.PARSE_ERROR, None),
        ("[" * 100_000 + "]" * 100_000, codec.PARSE_ERROR, None),
        ("[]", codec.INVALID_REQUEST, None),
        ("42", codec.INVALID_REQUEST, None),
        ('{"jsonrpc":"1.0","id":3,"method":"ping"}', codec.INVALID_REQUEST, 3),
        ('{"jsonrpc":"2.0","id":null,"method":"ping"}', codec.INVALID_REQUEST, None),
        ('{"jsonrpc":"2.0","id":1.5,"method":"ping"}', codec.INVALID_REQUEST, None),
        ('{"jsonrpc":"2.0","id":true,"method":"ping"}', codec.INVALID_REQUEST, None),
        ('{"jsonrpc":"2.0","id":7}', codec.INVALID_REQUEST, 7),
        ('{"jsonrpc":"2.0","id":7,"method":5}', codec.INVALID_REQUEST, 7),
        ('{"jsonrpc":"2.0","id":8,"method":"ping","params":[1]}', codec.INVALID_PARAMS, 8),
    ],
)
def test_bad_frames_raise_the_right_code_and_keep_a_readable_id(
    frame: str, code: int, msg_id: object
) -> None:
    """Each malformed frame maps to its JSON-RPC error code, with the id when it could be read."""
    with pytest.raises(DecodeError) as caught:
        codec.decode(frame)
    assert caught.value.code == code
    assert caught.value.id == msg_id


def test_encoders_produce_valid_jsonrpc() -> None:
    """Results, errors and notifications are JSON-RPC 2.0 objects."""
    assert json.loads(codec.result(0, {})) == {"jsonrpc": "2.0", "id": 0, "result": {}}
    assert json.loads(codec.error(None, -32700, "Parse error")) == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32700, "message": "Parse error"},
    }
    assert json.loads(codec.error(1, -32602, "bad", {"x": 1}))["error"]["data"] == {"x": 1}
    assert json.loads(codec.notification("n", {"a": 1})) == {
        "jsonrpc": "2.0",
        "method": "n",
        "params": {"a": 1},
    }


def request_text(msg_id: str, method: str, params: str = "{}") -> str:
    return '{"jsonrpc":"2.0","id":' + msg_id + ',"method":' + method + ',"params":' + params + "}"


def test_a_lone_surrogate_in_the_id_is_refused_without_an_id() -> None:
    """ "\\ud800" is valid JSON but no valid string: the id cannot be echoed, so the error has none."""
    with pytest.raises(DecodeError) as caught:
        codec.decode(request_text('"a\\ud800"', '"ping"'))
    assert caught.value.code == codec.INVALID_REQUEST and caught.value.id is None
    assert "id holds a lone UTF-16 surrogate" in caught.value.message


@pytest.mark.parametrize(
    ("method", "params", "code", "where"),
    [
        ('"pi\\udc00ng"', "{}", codec.INVALID_REQUEST, "method"),
        ('"tools/call"', '{"name":"\\uD800"}', codec.INVALID_PARAMS, "params.name"),
        (
            '"tools/call"',
            '{"name":"chat","arguments":{"prompt":"x\\ud800y"}}',
            codec.INVALID_PARAMS,
            "prompt",
        ),
        (
            '"tools/call"',
            '{"name":"chat","arguments":{"files":["ok","\\udfff"]}}',
            codec.INVALID_PARAMS,
            "[1]",
        ),
        ('"tasks/get"', '{"taskId":"\\ud800"}', codec.INVALID_PARAMS, "params.taskId"),
        ('"ping"', '{"k\\ud800":1}', codec.INVALID_PARAMS, "params.k\\ud800"),
    ],
)
def test_a_lone_surrogate_anywhere_else_is_refused_with_the_request_id(
    method: str, params: str, code: int, where: str
) -> None:
    """In the method, a tool name, an argument, a taskId or a key: an error naming where, with the id."""
    with pytest.raises(DecodeError) as caught:
        codec.decode(request_text("7", method, params))
    assert caught.value.code == code and caught.value.id == 7
    assert where in caught.value.message
    caught.value.message.encode()  # the message itself is valid Unicode


def test_a_notification_with_a_lone_surrogate_is_refused_without_an_id() -> None:
    """Nothing is echoed: the error carries no id, as for other malformed notifications."""
    with pytest.raises(DecodeError) as caught:
        codec.decode('{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"\\ud800"}}')
    assert caught.value.code == codec.INVALID_REQUEST and caught.value.id is None


def test_surrogate_pairs_and_escaped_backslashes_are_well_formed_text() -> None:
    """An escaped pair is one character, and "\\\\ud800" is six; neither is refused."""
    message = codec.decode(request_text("1", '"ping"', '{"a":"\\ud83d\\ude00","b":"\\\\ud800"}'))
    assert isinstance(message, Request) and message.params == {"a": "😀", "b": "\\ud800"}


def test_only_text_with_a_surrogate_escape_is_walked() -> None:
    """After strict UTF-8 decoding, a lone surrogate needs a \\uD8xx-\\uDFxx escape to exist."""
    assert not codec.may_hold_surrogates('{"a":"plain ✓ text \\u00e9"}')
    assert codec.may_hold_surrogates('{"a":"\\uDabc"}') and codec.may_hold_surrogates(b'"\\ud800"')


def test_bytes_must_be_strict_utf8_so_no_encoded_surrogate_slips_in() -> None:
    """Invalid UTF-8, and the UTF-8-like encoding of a surrogate, are parse errors."""
    for raw in (
        b'{"jsonrpc":"2.0","id":1,"method":"p\xff"}',
        b'{"jsonrpc":"2.0","id":1,"method":"\xed\xa0\x80"}',
    ):
        with pytest.raises(DecodeError) as caught:
            codec.decode(raw)
        assert caught.value.code == codec.PARSE_ERROR and caught.value.id is None
    assert codec.decode(b'{"jsonrpc":"2.0","id":1,"method":"ping"}') == Request(1, "ping", {})


def test_non_finite_numbers_pass_decoding_and_ids_cannot_be_floats() -> None:
    """NaN and Infinity are left to argument validation; an id of NaN is no id."""
    message = codec.decode(request_text("1", '"tools/call"', '{"arguments":{"t":NaN,"u":-Infinity}}'))
    assert isinstance(message, Request)
    for bad_id in ("NaN", "Infinity", "1e400", "1.0"):
        with pytest.raises(DecodeError) as caught:
            codec.decode(request_text(bad_id, '"ping"'))
        assert caught.value.code == codec.INVALID_REQUEST and caught.value.id is None


def test_the_encoder_never_writes_nan_infinity_or_a_raw_surrogate() -> None:
    """What goes on the wire is always strict JSON in valid UTF-8, whatever slipped into a value."""
    frame = codec.result(1, {"x": float("nan"), "y": [float("inf")], "s": "a\ud800", "ok": "é"})
    assert json.loads(frame, parse_constant=lambda c: pytest.fail(f"non-standard {c}")) == {
        "jsonrpc": "2.0",
        "id": 1,
        "result": {"x": None, "y": [None], "s": "a\ud800", "ok": "é"},
    }
    frame.encode("utf-8")  # would raise for a raw lone surrogate
    assert codec.result(1, {"ok": "é"}) == '{"jsonrpc":"2.0","id":1,"result":{"ok":"é"}}'


def test_the_modern_envelope_is_read_once_from_params_meta() -> None:
    """Version, capabilities, client info, log level, progress token, trace context and our hints."""
    env = codec.envelope(
        {
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {"sampling": {}},
                "io.modelcontextprotocol/logLevel": "info",
                "progressToken": 7,
                "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                "io.exai/correlation_id": "abc-1",
                "io.exai/preferTask": True,
            }
        }
    )
    assert env.modern and env.has_capabilities and env.version == "2026-07-28"
    assert (env.capabilities, env.log_level, env.progress_token) == ({"sampling": {}}, "info", 7)
    assert env.trace == {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    assert env.correlation_id == "abc-1" and env.prefer_task is True


def test_a_request_without_meta_has_no_envelope_and_odd_tokens_are_not_kept() -> None:
    """No _meta: not modern; a boolean token is no token; NaN is flagged to be refused."""
    assert codec.envelope({}) is codec.NO_ENVELOPE
    assert codec.envelope({"_meta": {"progressToken": True}}).progress_token is None
    assert codec.envelope({"_meta": {"progressToken": float("nan")}}).bad_progress_token
    assert not codec.envelope({"_meta": {"io.exai/correlation_id": "bad id!"}}).correlation_id


def test_a_pre_encoded_result_is_framed_with_the_request_id() -> None:
    """The id is encoded; the result text goes in as it is."""
    frame = codec.result_from_text('a"b', '{"tools":[]}')
    assert json.loads(frame) == {"jsonrpc": "2.0", "id": 'a"b', "result": {"tools": []}}
