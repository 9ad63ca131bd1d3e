"""A catalog with one pack's worth of prompts and resources, shared by the handler tests."""

from __future__ import annotations

from typing import Any

from contracts.answers import NeedInput, accepted, elicitation
from contracts.packs import (
    PromptArgument,
    PromptContext,
    PromptReply,
    PromptSpec,
    ResourceSpec,
    ResourceTemplateSpec,
)
from gateway.catalog import Catalog


def _hello(arguments: dict[str, str], context: PromptContext) -> PromptReply:
    text = f"Hello, {arguments['who']}!"
    return PromptReply(({"role": "user", "content": {"type": "text", "text": text}},), description="greeting")


def _asks_first(arguments: dict[str, str], context: PromptContext) -> PromptReply:
    answer = accepted(context.input_responses, "topic")
    if answer is None:
        raise NeedInput({"topic": elicitation("Which topic?", {"topic": {"type": "string"}}, ["topic"])})
    return PromptReply(({"role": "user", "content": {"type": "text", "text": f"About {answer['topic']}"}},))


def _item(uri: str, variables: dict[str, str]) -> list[dict[str, Any]]:
    if variables["id"] == "missing":
        raise LookupError(uri)
    return [{"uri": uri, "mimeType": "text/plain", "text": f"item {variables['id']}"}]


HELLO = PromptSpec(
    "hello",
    "Greets someone",
    _hello,
    arguments=(PromptArgument("who", "Whom to greet", required=True), PromptArgument("tone")),
    complete=lambda name, value, others: ["Alice", "Albert", "Bob"] if name == "who" else [],
)
ASKS_FIRST = PromptSpec("asks_first", "Asks for a topic first", _asks_first)
NOTE = ResourceSpec(
    "test://note", "note", read=lambda: [{"uri": "test://note", "mimeType": "text/plain", "text": "a note"}]
)
ITEMS = ResourceTemplateSpec(
    "test://items/{id}", "item", read=_item, complete=lambda name, value, others: ["1", "12", "2"]
)


def pack_catalog(page_size: int = 100) -> Catalog:
    return Catalog(page_size=page_size, prompts=[HELLO, ASKS_FIRST], resources=[NOTE], templates=[ITEMS])
