"""The catalog: tools and prompts in pages, tools as prompts, pack resources and templates, list changes."""

from __future__ import annotations

import json

import pytest

from contracts.packs import PromptContext, PromptReply, PromptSpec, ResourceSpec, ResourceTemplateSpec
from contracts.tools import SPECS
from gateway.catalog import Catalog, InvalidCursor

CONTEXT = PromptContext()


def test_tools_and_prompts_page_with_cursors_only_this_catalog_issued() -> None:
    """Pages of 5 cover every tool once; a cursor of another list or a forged one is refused."""
    catalog = Catalog(page_size=5)
    for kind, page in (("tools", catalog.page), ("prompts", catalog.prompts_page)):
        names, cursor = [], None
        while True:
            listed = page(cursor)
            names.extend(item["name"] for item in listed[kind])
            cursor = listed.get("nextCursor")
            if cursor is None:
                break
        assert names == list(SPECS), kind
    tools_cursor = catalog.page(None)["nextCursor"]
    with pytest.raises(InvalidCursor):
        catalog.prompts_page(tools_cursor)
    with pytest.raises(InvalidCursor):
        catalog.page("not-a-cursor!")


def test_every_tool_is_a_prompt_whose_arguments_are_its_string_and_enum_parameters() -> None:
    """chat's prompt takes prompt (required), model, thinking_mode (its enum described), continuation_id."""
    prompt = Catalog().prompt("chat")
    assert prompt is not None
    arguments = {argument.name: argument for argument in prompt.arguments}
    assert set(arguments) == {"prompt", "model", "thinking_mode", "continuation_id", "system_prompt"}
    assert arguments["prompt"].required and not arguments["model"].required
    assert "One of: minimal, low, medium, high, max." in arguments["thinking_mode"].description
    assert prompt.to_mcp()["arguments"][0] == {
        "name": "prompt",
        "required": True,
        "description": "The question or request.",
    }


def test_a_tool_prompt_renders_a_request_to_call_the_tool_with_the_arguments_given() -> None:
    """The user message names the tool, the arguments given, and the required parameters left to fill."""
    rendered = (
        Catalog().prompt("debug").render({"step": "look at divide()", "findings": "b may be 0"}, CONTEXT)
    )  # type: ignore[union-attr]
    text = rendered.messages[0]["content"]["text"]
    assert rendered.messages[0]["role"] == "user" and "Use the debug tool (Debug)" in text
    assert "- step: look at divide()" in text and "- findings: b may be 0" in text
    assert "next_step_required, step_number, total_steps" in text


def test_a_tool_prompt_without_a_required_argument_says_which() -> None:
    """Missing ``prompt`` for chat is a ValueError naming the argument and the prompt."""
    with pytest.raises(ValueError, match="argument 'prompt' is required by prompt 'chat'"):
        Catalog().prompt("chat").render({}, CONTEXT)  # type: ignore[union-attr]


def test_pack_prompts_follow_the_tool_prompts_and_are_not_tool_prompts() -> None:
    """A pack prompt is listed after the tools' and keeps its own render."""
    own = PromptSpec(
        "hello",
        "says hello",
        lambda args, ctx: PromptReply(({"role": "user", "content": {"type": "text", "text": "hi"}},)),
    )
    catalog = Catalog(prompts=[own])
    names = [p["name"] for p in catalog.prompts_page(None)["prompts"]]
    assert names == [*SPECS, "hello"]
    assert catalog.is_tool_prompt("chat") and not catalog.is_tool_prompt("hello")


def test_pack_resources_and_templates_are_found_by_uri() -> None:
    """A static resource by its URI; a templated one with its variables; anything else is None."""
    static = ResourceSpec("test://static", "static", read=lambda: [])
    template = ResourceTemplateSpec("test://item/{id}", "item", read=lambda uri, variables: [])
    catalog = Catalog(resources=[static], templates=[template])
    assert catalog.resource("test://static") is static and catalog.resource("test://other") is None
    assert catalog.template_for("test://item/42") == (template, {"id": "42"})
    assert catalog.template_for("test://static") is None
    assert catalog.template("test://item/{id}") is template


def test_a_final_workflow_step_is_expected_to_take_long_and_other_steps_not() -> None:
    """The task decision's hint: the expert step of debug, never a note-taking step or a quick tool."""
    catalog = Catalog()
    assert catalog.expected_duration("debug", {"next_step_required": False}) >= 30
    assert catalog.expected_duration("debug", {"next_step_required": True}) == 0
    assert catalog.expected_duration("planner", {"next_step_required": False}) == 0
    assert catalog.expected_duration("version", {}) == 0 and catalog.expected_duration("nope", {}) == 0


def test_each_list_change_moves_the_catalog_version() -> None:
    """Gateways drop pre-encoded pages when the version moves."""
    catalog = Catalog()
    assert (catalog.version, catalog.changed(), catalog.changed(), catalog.version) == (0, 1, 2, 2)


def test_nan_and_infinity_in_arguments_are_problems_naming_the_argument() -> None:
    """Python's parser accepts NaN/Infinity and a "number" schema too; validation refuses them by path."""
    arguments = json.loads(
        '{"prompt": "hi", "temperature": NaN, "images": [-Infinity], "x": {"y": Infinity}}'
    )
    problems = Catalog().argument_errors("chat", arguments)
    assert "temperature: NaN is not a number JSON allows; send a finite number" in problems
    assert "images.0: -Infinity is not a number JSON allows; send a finite number" in problems
    assert "x.y: Infinity is not a number JSON allows; send a finite number" in problems


def test_finite_numbers_and_huge_integers_add_no_such_problem() -> None:
    """Only non-finite floats are refused this way; the schema still judges the rest."""
    catalog = Catalog()
    assert catalog.argument_errors("chat", {"prompt": "hi", "temperature": 0.5}) == []
    problems = catalog.argument_errors("chat", {"prompt": "hi", "temperature": 10**30})
    assert problems and not any("JSON allows" in p for p in problems)
