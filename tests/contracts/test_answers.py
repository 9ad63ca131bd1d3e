"""The answer vocabulary: content blocks checked where they are made, input requests and their answers."""

from __future__ import annotations

import pytest

from contracts.answers import (
    NeedInput,
    ProtocolFailure,
    Reply,
    accepted,
    elicitation,
    elicitation_action,
    image_block,
    list_roots,
    missing_capability,
    reply,
    resource_block,
    resource_link,
    roots_of,
    sampled_text,
    sampling,
    text_block,
)


def test_a_reply_renders_its_text_blocks_as_plain_text_or_names_its_kinds() -> None:
    """Text blocks joined by lines; a reply without text names its block types."""
    assert reply(text_block("a"), image_block("AA==", "image/png"), text_block("b")).plain_text() == "a\nb"
    assert reply(image_block("AA==", "image/png")).plain_text() == "(content: image)"


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"type": "video", "data": "x"}, "type must be one of text, image, audio, resource, resource_link"),
        ({"type": "image", "data": "AA=="}, "the image block needs mimeType"),
        ({"type": "resource", "resource": {"uri": "test://x"}}, "needs uri and text or blob"),
        ({"type": "resource_link", "uri": "test://x"}, "the resource_link block needs name"),
    ],
)
def test_a_malformed_block_is_refused_naming_where_it_is(block: dict[str, object], message: str) -> None:
    """The tool author hears which block is wrong and why, before anything is stored."""
    with pytest.raises(ValueError, match=rf"content\[1\]: .*{message}"):
        Reply(content=(text_block("ok"), block))  # type: ignore[arg-type]


def test_block_builders_make_the_mcp_shapes() -> None:
    """Embedded resources carry text or blob, links carry uri and name."""
    assert resource_block("test://r", "text/plain", text="t") == {
        "type": "resource",
        "resource": {"uri": "test://r", "mimeType": "text/plain", "text": "t"},
    }
    assert resource_link("test://r", "r", mime_type="text/plain")["mimeType"] == "text/plain"
    with pytest.raises(ValueError, match="either text or blob"):
        resource_block("test://r", "text/plain")


def test_need_input_checks_its_requests_and_names_the_capabilities_they_need() -> None:
    """Each request is one of the three methods; missing_capabilities says what the client lacks."""
    need = NeedInput(
        {"a": elicitation("Name?", {"n": {"type": "string"}}), "b": sampling("Hi", 10), "c": list_roots()}
    )
    assert need.missing_capabilities({"elicitation": {}}) == {"roots": {}, "sampling": {}}
    assert (
        need.missing_capabilities({"elicitation": {}, "sampling": {}, "roots": {"listChanged": True}}) == {}
    )
    assert "a (elicitation/create)" in need.summary()
    with pytest.raises(ValueError, match="'x' must be"):
        NeedInput({"x": {"method": "tools/call", "params": {}}})
    with pytest.raises(ValueError, match="at least one"):
        NeedInput({})


def test_answers_are_read_only_when_they_have_the_right_shape() -> None:
    """A number, a decline or a missing key is no answer; the shapes the spec defines are."""
    responses = {
        "form": {"action": "accept", "content": {"name": "Alice"}},
        "declined": {"action": "decline"},
        "bad": 12345,
        "sample": {"role": "assistant", "content": {"type": "text", "text": "Paris"}, "model": "m"},
        "roots": {"roots": [{"uri": "file:///a", "name": "a"}, {"name": "no uri"}]},
    }
    assert accepted(responses, "form") == {"name": "Alice"}
    assert accepted(responses, "declined") is None and elicitation_action(responses, "declined") == "decline"
    assert accepted(responses, "bad") is None and accepted(None, "form") is None
    assert sampled_text(responses, "sample") == "Paris" and sampled_text(responses, "form") is None
    assert roots_of(responses, "roots") == [{"uri": "file:///a", "name": "a"}]


def test_a_protocol_failure_carries_code_message_and_data_and_32021_names_the_capability() -> None:
    """missing_capability builds the MissingRequiredClientCapability error the spec defines."""
    failure = missing_capability({"sampling": {}}, "tool 'x'")
    assert failure.error() == {
        "code": -32021,
        "message": "tool 'x' needs the client capability sampling, which this request did not declare",
        "data": {"requiredCapabilities": {"sampling": {}}},
    }
    assert ProtocolFailure(-32603, "m").error() == {"code": -32603, "message": "m"}
    with pytest.raises(TypeError):
        ProtocolFailure(True, "m")
