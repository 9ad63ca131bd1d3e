"""prompts/list and prompts/get: tools as prompts, pack prompts, bad input named, input asked first."""

from __future__ import annotations

import pytest

from contracts.answers import NeedInput
from contracts.tools import SPECS
from gateway.core.errors import InvalidParams, MissingCapability
from gateway.core.methods.prompts import Prompts
from tests.gateway.core.methods.fixtures import pack_catalog

pytestmark = pytest.mark.anyio
PROMPTS = Prompts(pack_catalog(page_size=10))


async def test_prompts_list_pages_through_every_tool_and_then_the_pack_prompts() -> None:
    """Each prompt once, tools first; a cursor of our own pages on, a foreign one is -32602."""
    names, cursor = [], None
    while True:
        page = await PROMPTS.list("alice", {} if cursor is None else {"cursor": cursor})
        names.extend(p["name"] for p in page["prompts"])
        cursor = page.get("nextCursor")
        if cursor is None:
            break
    assert names == [*SPECS, "hello", "asks_first"]
    for bad in ({"cursor": "bm9wZQ=="}, {"cursor": 3}):
        with pytest.raises(InvalidParams, match="cursor"):
            await PROMPTS.list("alice", bad)


async def test_a_pack_prompt_renders_its_messages_with_the_arguments_given() -> None:
    """prompts/get hello who=Ada: one user text message and the description."""
    got = await PROMPTS.get("alice", {"name": "hello", "arguments": {"who": "Ada"}})
    assert got == {
        "description": "greeting",
        "messages": [{"role": "user", "content": {"type": "text", "text": "Hello, Ada!"}}],
    }


async def test_a_tool_prompt_renders_the_request_to_call_the_tool() -> None:
    """prompts/get chat: the message names the tool and carries the prompt argument."""
    got = await PROMPTS.get(
        "bob", {"name": "chat", "arguments": {"prompt": "Explain CRDTs", "model": "glm-4.6"}}
    )
    text = got["messages"][0]["content"]["text"]
    assert (
        "Use the chat tool (Chat)" in text
        and "- prompt: Explain CRDTs" in text
        and "- model: glm-4.6" in text
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "name must be a string naming a prompt"),
        ({"name": "nope"}, "unknown prompt 'nope'"),
        ({"name": "hello", "arguments": {"who": 3}}, "arguments must be an object of strings"),
        (
            {"name": "hello", "arguments": {"who": "x", "mood": "y"}},
            "has no argument 'mood' \\(it takes who, tone\\)",
        ),
        ({"name": "hello", "arguments": {}}, "argument 'who' is required by prompt 'hello'"),
        ({"name": "chat", "arguments": {}}, "argument 'prompt' is required by prompt 'chat'"),
    ],
)
async def test_bad_prompt_requests_are_invalid_params_that_say_what_to_fix(
    params: dict, message: str
) -> None:
    """Each mistake is a -32602 naming the argument at fault."""
    with pytest.raises(InvalidParams, match=message):
        await PROMPTS.get("alice", params)


async def test_a_prompt_that_needs_input_asks_first_and_renders_with_the_answer() -> None:
    """Round 1 raises NeedInput for the core to turn into input_required; round 2 renders with the answer."""
    elicits = {"elicitation": {}}
    with pytest.raises(NeedInput) as asked:
        await PROMPTS.get("alice", {"name": "asks_first"}, client_capabilities=elicits)
    assert list(asked.value.requests) == ["topic"]
    answers = {"topic": {"action": "accept", "content": {"topic": "queues"}}}
    got = await PROMPTS.get(
        "alice", {"name": "asks_first", "inputResponses": answers}, client_capabilities=elicits
    )
    assert got["messages"][0]["content"]["text"] == "About queues"


async def test_a_prompt_asking_through_an_undeclared_capability_is_32021() -> None:
    """Without elicitation declared the question cannot be asked: MissingCapability naming it."""
    with pytest.raises(MissingCapability) as refused:
        await PROMPTS.get("alice", {"name": "asks_first"}, client_capabilities={"sampling": {}})
    assert refused.value.data == {"requiredCapabilities": {"elicitation": {}}}
