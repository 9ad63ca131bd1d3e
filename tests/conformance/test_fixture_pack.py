"""The fixture pack as gateways and workers load it: every fixture of docs/architecture.md §7, specs only
on the gateway side, one Celery task per tool on the worker side, prompts and resources served."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from celery import Celery

from contracts.answers import NeedInput
from contracts.names import task_name
from contracts.packs import import_packs
from contracts.settings import load_settings
from gateway.core.errors import ResourceNotFound
from gateway.core.methods.completion import Completion
from gateway.core.methods.prompts import Prompts
from gateway.core.methods.resources import Resources
from gateway.packs import catalog
from tests.conformance.fixture_pack import PNG_BASE64
from tests.support.memory_threads import MemoryThreads
from workers.packs import register_packs

pytestmark = pytest.mark.anyio
MODULE = "tests.conformance.fixture_pack"
SETTINGS = load_settings(exai_tool_packs=MODULE)
CATALOG = catalog(SETTINGS)

# docs/architecture.md §7, the tools, prompts and resources the suite's scenarios call.
TOOLS = {
    "test_simple_text", "test_image_content", "test_audio_content", "test_embedded_resource",
    "test_multiple_content_types", "test_error_handling", "test_tool_with_progress", "test_tool_with_logging",
    "test_logging_tool", "test_missing_capability", "test_streaming_elicitation", "test_trigger_tool_change",
    "test_trigger_prompt_change", "test_sampling", "test_elicitation", "test_elicitation_sep1034_defaults",
    "test_elicitation_sep1330_enums", "test_input_required_result_elicitation",
    "test_input_required_result_sampling", "test_input_required_result_list_roots",
    "test_input_required_result_request_state", "test_input_required_result_multiple_inputs",
    "test_input_required_result_multi_round", "test_input_required_result_tampered_state",
    "test_input_required_result_capabilities", "greet", "slow_compute", "failing_job", "protocol_error_job",
    "confirm_delete", "multi_input", "test_tool_with_task", "json_schema_2020_12_tool",
}  # fmt: skip
PROMPTS = {
    "test_simple_prompt", "test_prompt_with_arguments", "test_prompt_with_embedded_resource",
    "test_prompt_with_image", "test_input_required_result_prompt",
}  # fmt: skip


def test_a_gateway_loads_the_pack_without_importing_any_worker_code() -> None:
    """In a fresh interpreter, loading the pack for a gateway leaves no workers.* module imported."""
    probe = (
        "import sys; from contracts.settings import load_settings; from gateway.packs import catalog; "
        f"c = catalog(load_settings(exai_tool_packs={MODULE!r})); "
        "print(len(c.specs), sorted(m for m in sys.modules if m.split('.')[0] == 'workers'))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split(" ", 1)[1].strip() == "[]"


def test_every_fixture_of_the_design_is_offered_beside_the_builtin_tools() -> None:
    """§7's tools (also as prompts), its prompts, resources and template."""
    assert set(CATALOG.specs) >= TOOLS and "chat" in CATALOG.specs
    assert set(CATALOG.prompts) >= PROMPTS
    assert set(CATALOG.resources) == {"test://static-text", "test://static-binary", "test://watched-resource"}
    assert [t.uri_template for t in CATALOG.templates] == ["test://template/{id}/data"]


def test_the_task_fixtures_carry_the_hints_the_tasks_scenarios_rely_on() -> None:
    """greet is sync only; failing_job and test_tool_with_task require a task; slow_compute is long."""
    listed = {tool["name"]: tool for tool in CATALOG.page(None)["tools"] if tool["name"] in TOOLS}
    assert listed["greet"]["execution"] == {"taskSupport": "forbidden"}
    assert listed["failing_job"]["execution"] == {"taskSupport": "required"}
    assert listed["slow_compute"]["execution"] == {"taskSupport": "optional"}
    assert CATALOG.expected_duration("slow_compute", {"seconds": 1}) >= 30
    assert CATALOG.expected_duration("greet", {"name": "x"}) == 0
    with_task = CATALOG.specs["test_tool_with_task"]
    assert with_task.input_before_task and with_task.task_support == "required"
    assert CATALOG.specs["test_missing_capability"].client_capabilities == {"sampling": {}}
    assert "outputSchema" not in listed["test_simple_text"]
    assert listed["json_schema_2020_12_tool"]["inputSchema"]["$defs"]["address"]["$anchor"] == "addressDef"


def test_a_worker_registers_one_celery_task_per_fixture_tool() -> None:
    """exai.tool.<name> for each of them, next to the built-in tools."""
    app = Celery("fixture-pack-test", set_as_current=False)
    register_packs(app, object(), import_packs(SETTINGS.tool_pack_modules()))  # type: ignore[arg-type]
    assert {task_name(name) for name in TOOLS} <= set(app.tasks)


async def test_the_fixture_prompts_render_as_the_suite_expects() -> None:
    """Arguments substituted; embedded resource and image messages; the MRTR prompt asks then renders."""
    prompts = Prompts(CATALOG)
    args = await prompts.get(
        "t", {"name": "test_prompt_with_arguments", "arguments": {"arg1": "hello", "arg2": "world"}}
    )
    assert args["messages"][0]["content"]["text"] == "Prompt with arguments: arg1='hello', arg2='world'"
    embedded = await prompts.get(
        "t",
        {
            "name": "test_prompt_with_embedded_resource",
            "arguments": {"resourceUri": "test://example-resource"},
        },
    )
    assert embedded["messages"][0]["content"]["resource"]["uri"] == "test://example-resource"
    image = await prompts.get("t", {"name": "test_prompt_with_image"})
    assert image["messages"][0]["content"] == {"type": "image", "data": PNG_BASE64, "mimeType": "image/png"}
    with pytest.raises(NeedInput) as asked:
        await prompts.get(
            "t", {"name": "test_input_required_result_prompt"}, client_capabilities={"elicitation": {}}
        )
    assert list(asked.value.requests) == ["user_context"]
    answered = {"user_context": {"action": "accept", "content": {"context": "tests"}}}
    got = await prompts.get(
        "t",
        {"name": "test_input_required_result_prompt", "inputResponses": answered},
        client_capabilities={"elicitation": {}},
    )
    assert got["messages"][0]["content"]["text"] == "Prompt with context: tests"


async def test_the_fixture_resources_read_as_the_suite_expects_and_unknown_ones_are_not_found() -> None:
    """Static text, binary blob, the template's JSON with its id, and -32602 for the nonexistent URI."""
    resources = Resources(CATALOG, SETTINGS, MemoryThreads())
    (text,) = (await resources.read("t", {"uri": "test://static-text"}))["contents"]
    assert text == {
        "uri": "test://static-text",
        "mimeType": "text/plain",
        "text": "This is the content of the static text resource.",
    }
    (blob,) = (await resources.read("t", {"uri": "test://static-binary"}))["contents"]
    assert blob["blob"] == PNG_BASE64 and blob["mimeType"] == "image/png"
    (data,) = (await resources.read("t", {"uri": "test://template/123/data"}))["contents"]
    assert json.loads(data["text"]) == {"id": "123", "templateTest": True, "data": "Data for ID: 123"}
    nonexistent = "test://nonexistent-resource-for-conformance-testing"
    with pytest.raises(ResourceNotFound) as missing:
        await resources.read("t", {"uri": nonexistent})
    assert missing.value.data == {"uri": nonexistent}


async def test_the_fixture_prompt_argument_completes() -> None:
    """completion/complete for test_prompt_with_arguments' arg1 answers values starting with the input."""
    complete = Completion(CATALOG, SETTINGS, MemoryThreads())
    params = {
        "ref": {"type": "ref/prompt", "name": "test_prompt_with_arguments"},
        "argument": {"name": "arg1", "value": "test"},
    }
    answer = await complete.complete("t", params)
    assert answer["completion"]["values"] == ["test", "testing", "test-value"]
