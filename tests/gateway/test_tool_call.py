"""Reading a tools/call's params: what is accepted, and which refusal is an error or an isError result."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.tool_call import Refused, ToolCall, read_tool_call
from gateway.tool_catalog import ToolCatalog

CATALOG = ToolCatalog()


def test_a_well_formed_call_is_read_with_its_canonical_name_token_and_correlation_id() -> None:
    """The old clients' suffix is dropped; a bool token and a malformed correlation id are ignored."""
    params = {"name": "chat_EXAI-WS", "arguments": {"prompt": "hi"}, "_meta": {"progressToken": 7}}
    assert read_tool_call(params, CATALOG) == ToolCall("chat", {"prompt": "hi"}, None, 7, None)
    odd = {"name": "version", "_meta": {"progressToken": True, "io.exai/correlation_id": "a b"}}
    assert read_tool_call(odd, CATALOG) == ToolCall("version", {}, None, None, None)
    assert read_tool_call({"name": "version", "task": {"ttl": 5}}, CATALOG).task == {"ttl": 5}


@pytest.mark.parametrize(
    ("params", "as_result", "says"),
    [
        ({"arguments": {}}, False, "name must be a string"),
        ({"name": "nope"}, False, "Unknown tool: nope"),
        ({"name": "chat", "arguments": [1]}, True, "arguments must be an object"),
        ({"name": "chat", "arguments": {"prompt": "x"}, "task": 3}, False, "task must be an object"),
        ({"name": "chat", "arguments": {}}, True, "'prompt' is a required property"),
        ({"name": "chat", "arguments": {}, "task": {}}, False, "'prompt' is a required property"),
        (
            json.loads('{"name":"chat","arguments":{"prompt":"x","temperature":NaN}}'),
            True,
            "temperature: NaN",
        ),
        (json.loads('{"name":"version","_meta":{"progressToken":-Infinity}}'), False, "_meta.progressToken"),
        (json.loads('{"name":"version","task":{"ttl":Infinity}}'), False, "task.ttl must be a finite"),
    ],
)
def test_each_refusal_says_what_to_fix_and_whether_it_is_a_result(
    params: dict[str, Any], as_result: bool, says: str
) -> None:
    """Bad arguments of a plain call are an isError result; everything else, and a task call's bad
    arguments, a -32602 error."""
    with pytest.raises(Refused) as refused:
        read_tool_call(params, CATALOG)
    assert refused.value.as_result is as_result
    assert says in refused.value.message
