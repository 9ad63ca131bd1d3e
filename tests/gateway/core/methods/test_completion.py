"""completion/complete: model names, thinking modes, the caller's own thread ids, pack completers."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.packs import ResourceTemplateSpec
from contracts.settings import load_settings
from gateway.catalog import Catalog
from gateway.core.errors import InvalidParams
from gateway.core.methods.completion import Completion
from tests.gateway.core.methods.fixtures import pack_catalog
from tests.support.memory_threads import MemoryThreads

pytestmark = pytest.mark.anyio


def completion(threads: MemoryThreads | None = None) -> Completion:
    return Completion(pack_catalog(), load_settings(), threads or MemoryThreads())


def prompt(name: str, argument: str, value: str = "") -> dict[str, Any]:
    return {"ref": {"type": "ref/prompt", "name": name}, "argument": {"name": argument, "value": value}}


async def values(answer: Any) -> list[str]:
    return list((await answer)["completion"]["values"])


async def test_a_tool_prompts_model_argument_completes_to_configured_models_starting_with_the_input() -> None:
    """model 'glm-4.' → the glm-4.x models only; '' → auto first, then every model."""
    assert await values(completion().complete("alice", prompt("chat", "model", "GLM-4."))) == [
        "glm-4.6",
        "glm-4.7",
        "glm-4.5",
        "glm-4.5-air",
        "glm-4.5-flash",
    ]
    everything = await values(completion().complete("alice", prompt("chat", "model")))
    assert everything[0] == "auto" and "kimi-k2.6" in everything


async def test_thinking_modes_and_other_enums_complete_to_their_values() -> None:
    """thinking_mode → minimal…max; codereview's review_type → its enum."""
    assert await values(completion().complete("a", prompt("thinkdeep", "thinking_mode", "m"))) == [
        "minimal",
        "medium",
        "max",
    ]
    assert await values(completion().complete("a", prompt("codereview", "review_type", ""))) == [
        "full",
        "security",
        "performance",
        "quick",
    ]


async def test_continuation_ids_are_the_callers_own_threads_most_recent_first() -> None:
    """Alice is offered her thread ids, for tool prompts and the thread template; bob's never."""
    threads = MemoryThreads()
    threads.add("a-1", "alice", at=1.0)
    threads.add("a-2", "alice", at=2.0)
    threads.add("b-1", "bob", at=3.0)
    handler = completion(threads)
    assert await values(handler.complete("alice", prompt("chat", "continuation_id"))) == ["a-2", "a-1"]
    template = {"ref": {"type": "ref/resource", "uri": "exai://threads/{continuation_id}"}}
    answer = await handler.complete(
        "alice", {**template, "argument": {"name": "continuation_id", "value": "a-1"}}
    )
    assert answer == {"completion": {"values": ["a-1"], "total": 1, "hasMore": False}}
    assert await values(handler.complete("bob", prompt("chat", "continuation_id", "a"))) == []


async def test_pack_prompts_and_templates_complete_through_their_own_completers() -> None:
    """hello's who 'al' → Alice, Albert; the items template's id '1' → 1, 12; a static resource → nothing."""
    assert await values(completion().complete("a", prompt("hello", "who", "al"))) == ["Alice", "Albert"]
    assert await values(completion().complete("a", prompt("hello", "tone", ""))) == []
    items = {
        "ref": {"type": "ref/resource", "uri": "test://items/{id}"},
        "argument": {"name": "id", "value": "1"},
    }
    assert await values(completion().complete("a", items)) == ["1", "12"]
    note = {"ref": {"type": "ref/resource", "uri": "test://note"}, "argument": {"name": "x", "value": ""}}
    assert await values(completion().complete("a", note)) == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"ref": {"type": "ref/prompt", "name": "chat"}}, "argument must be \\{name, value\\}"),
        (
            {**prompt("chat", "model"), "ref": {"type": "ref/tool"}},
            'ref.type must be "ref/prompt" or "ref/resource"',
        ),
        (prompt("nope", "x"), "unknown prompt 'nope'"),
        (prompt("chat", "nonsense"), "prompt 'chat' has no argument 'nonsense'"),
        (
            {"ref": {"type": "ref/resource", "uri": "test://zzz/{q}"}, "argument": {"name": "q"}},
            "unknown resource template",
        ),
        (
            {**prompt("chat", "model"), "argument": {"name": "model", "value": 5}},
            "argument.value must be a string",
        ),
    ],
)
async def test_malformed_completion_requests_are_invalid_params_naming_the_fault(
    params: dict, message: str
) -> None:
    """Each bad request is -32602 with a sentence saying what is wrong."""
    with pytest.raises(InvalidParams, match=message):
        await completion().complete("alice", params)


async def test_more_than_a_hundred_matches_are_cut_with_has_more() -> None:
    """MCP caps values at 100; total says how many matched and hasMore that some were left out."""
    many = ResourceTemplateSpec(
        "test://n/{n}", "n", read=lambda uri, v: [], complete=lambda *_: [str(i) for i in range(150)]
    )
    handler = Completion(Catalog(templates=[many]), load_settings(), MemoryThreads())
    params = {"ref": {"type": "ref/resource", "uri": "test://n/{n}"}, "argument": {"name": "n", "value": ""}}
    answer = (await handler.complete("alice", params))["completion"]
    assert (len(answer["values"]), answer["total"], answer["hasMore"]) == (100, 150, True)
