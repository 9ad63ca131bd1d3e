"""The conformance suite's reference tools, prompts and resources, as a tool pack (docs/architecture.md §7).

Loaded only by tests, with ``EXAI_TOOL_PACKS=tests.conformance.fixture_pack`` from the repository
root. Like any pack, gateways read the specs, prompts and resources below, and workers register the
implementations (``tests.conformance.fixture_tools``, imported inside ``register``): every tool runs
on a worker as the Celery task ``exai.tool.<name>``, through the real gateway and Redis. Behaviour
follows the suite's scenarios (``src/scenarios/server``) and its reference ``everything-server.ts``.
"""

from __future__ import annotations

import json
from typing import Any

from contracts.answers import (
    NeedInput,
    accepted,
    declares,
    elicitation,
    image_block,
    resource_block,
    text_block,
)
from contracts.packs import (
    PromptArgument,
    PromptContext,
    PromptReply,
    PromptSpec,
    ResourceSpec,
    ResourceTemplateSpec,
    ToolPack,
)
from contracts.tools import TaskSupport, ToolSpec

# A 1x1 red PNG and a minimal WAV, as the reference server sends them.
PNG_BASE64 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)
WAV_BASE64 = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="
LONG_S = 60.0  # the expected duration that makes the server answer with a task (above EXAI_TASK_THRESHOLD_S)

NO_ARGUMENTS: dict[str, Any] = {"type": "object", "properties": {}}

# SEP-1613/SEP-2106: listed exactly as written, 2020-12 keywords and all.
JSON_SCHEMA_2020_12: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "$anchor": "addressDef",
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {
        "name": {"type": "string"},
        "address": {"$ref": "#/$defs/address"},
        "contactMethod": {"type": "string", "enum": ["phone", "email"]},
        "phone": {"type": "string"},
        "email": {"type": "string"},
    },
    "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
    "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
    "then": {"required": ["phone"]},
    "else": {"required": ["email"]},
    "additionalProperties": False,
}


def _strings(*names: str, required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {name: {"type": "string"} for name in names},
        "required": list(required),
    }


def _tool(
    name: str,
    description: str,
    schema: dict[str, Any] = NO_ARGUMENTS,
    *,
    task_support: TaskSupport = "optional",
    expected_s: float = 0.0,
    **hints: Any,
) -> ToolSpec:
    return ToolSpec(
        name=name,
        title="",
        description=description,
        input_schema=schema,
        task_support=task_support,
        expected_s=expected_s,
        **hints,
    )


SLOW_COMPUTE = {
    "type": "object",
    "properties": {
        "seconds": {"type": "number", "minimum": 0, "maximum": 600, "description": "How long to compute."},
        "label": {"type": "string", "description": "A name for this computation."},
    },
}

TOOLS = (
    _tool("test_simple_text", "Tests simple text content response"),
    _tool("test_image_content", "Tests image content response"),
    _tool("test_audio_content", "Tests audio content response"),
    _tool("test_embedded_resource", "Tests embedded resource content response"),
    _tool(
        "test_multiple_content_types", "Tests response with multiple content types (text, image, resource)"
    ),
    _tool("test_error_handling", "Tests error response handling"),
    _tool("test_tool_with_progress", "Tests tool that reports progress notifications"),
    _tool("test_tool_with_logging", "Tests tool that emits log messages during execution"),
    _tool("test_logging_tool", "Diagnostic logging validator tool: logs only when the request asks for logs"),
    _tool(
        "test_missing_capability",
        "Test tool requiring sampling",
        client_capabilities={"sampling": {}},
    ),
    _tool(
        "test_streaming_elicitation",
        "Diagnostic tool validating response progress streams",
        client_capabilities={"elicitation": {}},
    ),
    _tool("test_trigger_tool_change", "Announces a change of the tool list (a test hook)"),
    _tool("test_trigger_prompt_change", "Announces a change of the prompt list (a test hook)"),
    _tool(
        "test_sampling",
        "Tests server-initiated sampling (LLM completion request)",
        _strings("prompt", required=("prompt",)),
    ),
    _tool(
        "test_elicitation",
        "Tests server-initiated elicitation (user input request)",
        _strings("message", required=("message",)),
    ),
    _tool("test_elicitation_sep1034_defaults", "Tests elicitation with default values per SEP-1034"),
    _tool("test_elicitation_sep1330_enums", "Tests elicitation with enum schema improvements per SEP-1330"),
    _tool(
        "test_input_required_result_elicitation", "MRTR: returns InputRequiredResult with elicitation request"
    ),
    _tool("test_input_required_result_sampling", "MRTR: returns InputRequiredResult with sampling request"),
    _tool(
        "test_input_required_result_list_roots", "MRTR: returns InputRequiredResult with roots/list request"
    ),
    _tool("test_input_required_result_request_state", "MRTR: returns InputRequiredResult with requestState"),
    _tool(
        "test_input_required_result_multiple_inputs",
        "MRTR: returns InputRequiredResult with several requests",
    ),
    _tool("test_input_required_result_multi_round", "MRTR: multi-round InputRequiredResult workflow"),
    _tool("test_input_required_result_tampered_state", "MRTR: integrity-protected requestState test"),
    _tool("test_input_required_result_capabilities", "MRTR: respects client capabilities in inputRequests"),
    _tool(
        "greet",
        "Greets by name, synchronously",
        _strings("name", required=("name",)),
        task_support="forbidden",
    ),
    _tool(
        "slow_compute", "Computes for `seconds`, cooperatively cancellable", SLOW_COMPUTE, expected_s=LONG_S
    ),
    _tool("failing_job", "A task that ends with a tool error", task_support="required", expected_s=LONG_S),
    _tool("protocol_error_job", "A task that ends with a protocol error", expected_s=LONG_S),
    _tool("confirm_delete", "Asks for confirmation while running", _strings("filename"), expected_s=LONG_S),
    _tool("multi_input", "Asks two questions at once while running", expected_s=LONG_S),
    _tool(
        "test_tool_with_task",
        "Gathers a name by MRTR, then finishes as a task",
        task_support="required",
        expected_s=LONG_S,
        input_before_task=True,
    ),
    _tool(
        "json_schema_2020_12_tool", "Tool with JSON Schema 2020-12 features (SEP-1613)", JSON_SCHEMA_2020_12
    ),
)


# --- prompts (rendered in the gateway) --------------------------------------------------------
def _user(content: dict[str, Any]) -> dict[str, Any]:
    return {"role": "user", "content": content}


def _simple(arguments: dict[str, str], context: PromptContext) -> PromptReply:
    return PromptReply((_user(text_block("This is a simple prompt for testing.")),))


def _with_arguments(arguments: dict[str, str], context: PromptContext) -> PromptReply:
    text = f"Prompt with arguments: arg1='{arguments['arg1']}', arg2='{arguments['arg2']}'"
    return PromptReply((_user(text_block(text)),))


def _with_embedded_resource(arguments: dict[str, str], context: PromptContext) -> PromptReply:
    embedded = resource_block(
        arguments["resourceUri"], "text/plain", text="Embedded resource content for testing."
    )
    return PromptReply((_user(embedded), _user(text_block("Please process the embedded resource above."))))


def _with_image(arguments: dict[str, str], context: PromptContext) -> PromptReply:
    image = image_block(PNG_BASE64, "image/png")
    return PromptReply((_user(image), _user(text_block("Please analyze the image above."))))


def _input_required(arguments: dict[str, str], context: PromptContext) -> PromptReply:
    if not declares(context.client_capabilities, "elicitation"):
        return PromptReply((_user(text_block("Prompt with context: none (the client cannot be asked)")),))
    answer = accepted(context.input_responses, "user_context")
    if answer is None or not isinstance(answer.get("context"), str):
        form = elicitation(
            "What context should the prompt use?", {"context": {"type": "string"}}, ["context"]
        )
        raise NeedInput({"user_context": form})
    return PromptReply((_user(text_block(f"Prompt with context: {answer['context']}")),))


ARG1_VALUES = ("paris", "park", "party", "test", "testing", "test-value")

PROMPTS = (
    PromptSpec(
        "test_simple_prompt", "A simple prompt without arguments", _simple, title="Simple Test Prompt"
    ),
    PromptSpec(
        "test_prompt_with_arguments",
        "A prompt with required arguments",
        _with_arguments,
        title="Prompt With Arguments",
        arguments=(
            PromptArgument("arg1", "First test argument", True),
            PromptArgument("arg2", "Second test argument", True),
        ),
        complete=lambda name, value, others: ARG1_VALUES if name == "arg1" else (),
    ),
    PromptSpec(
        "test_prompt_with_embedded_resource",
        "A prompt that includes an embedded resource",
        _with_embedded_resource,
        title="Prompt With Embedded Resource",
        arguments=(PromptArgument("resourceUri", "URI of the resource to embed", True),),
    ),
    PromptSpec(
        "test_prompt_with_image",
        "A prompt that includes image content",
        _with_image,
        title="Prompt With Image",
    ),
    PromptSpec(
        "test_input_required_result_prompt", "MRTR: prompt that requires elicitation input", _input_required
    ),
)


# --- resources (read in the gateway) ----------------------------------------------------------
def _template_data(uri: str, variables: dict[str, str]) -> list[dict[str, Any]]:
    body = {"id": variables["id"], "templateTest": True, "data": f"Data for ID: {variables['id']}"}
    return [{"uri": uri, "mimeType": "application/json", "text": json.dumps(body)}]


RESOURCES = (
    ResourceSpec(
        "test://static-text",
        "static-text",
        read=lambda: [
            {
                "uri": "test://static-text",
                "mimeType": "text/plain",
                "text": "This is the content of the static text resource.",
            }
        ],
        title="Static Text Resource",
        description="A static text resource for testing",
        mime_type="text/plain",
    ),
    ResourceSpec(
        "test://static-binary",
        "static-binary",
        read=lambda: [{"uri": "test://static-binary", "mimeType": "image/png", "blob": PNG_BASE64}],
        title="Static Binary Resource",
        description="A static binary resource (image) for testing",
        mime_type="image/png",
    ),
    ResourceSpec(
        "test://watched-resource",
        "watched-resource",
        read=lambda: [
            {"uri": "test://watched-resource", "mimeType": "text/plain", "text": "Watched resource content"}
        ],
        title="Watched Resource",
        description="A resource clients may subscribe to",
        mime_type="text/plain",
    ),
)

TEMPLATES = (
    ResourceTemplateSpec(
        "test://template/{id}/data",
        "template",
        read=_template_data,
        title="Resource Template",
        description="A resource template with parameter substitution",
        mime_type="application/json",
    ),
)


def _register(app: Any, runner: Any) -> None:
    # Worker processes only: the implementations import worker code.
    from tests.conformance.fixture_tools import IMPLEMENTATIONS
    from workers.packs import register_tools

    register_tools(app, runner, IMPLEMENTATIONS)


PACK = ToolPack(
    name="conformance",
    tools=TOOLS,
    prompts=PROMPTS,
    resources=RESOURCES,
    resource_templates=TEMPLATES,
    register=_register,
)
