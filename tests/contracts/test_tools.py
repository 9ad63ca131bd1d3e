"""The tool registry: every spec valid, every spec implemented, every implementation importable."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest
from jsonschema import Draft202012Validator

from contracts.tool_specs.workflow import STEP_FIELDS
from contracts.tools import SPECS, TOOL_NAME, canonical_tool_name

EXPECTED = {
    "chat", "challenge", "listmodels", "version", "status",
    "thinkdeep", "analyze", "codereview", "debug", "planner", "consensus",
    "precommit", "refactor", "secaudit", "testgen", "docgen", "tracer",
    "kimi_chat_with_tools", "glm_web_search",
}  # fmt: skip


def test_every_tool_users_call_today_has_a_spec() -> None:
    """The whole old tool set is offered, under the same names."""
    assert set(SPECS) == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_spec_has_valid_schemas_and_annotations(name: str) -> None:
    """Input and output schemas are valid 2020-12 object schemas; annotations are all set."""
    spec = SPECS[name]
    assert TOOL_NAME.match(spec.name)
    for schema in (spec.input_schema, spec.output_schema):
        Draft202012Validator.check_schema(schema)
        assert schema["type"] == "object"
    assert {"status", "content", "metadata"} <= set(spec.output_schema["required"])
    listed = spec.to_mcp()
    assert listed["inputSchema"] is spec.input_schema and listed["outputSchema"] is spec.output_schema
    assert set(listed["annotations"]) >= {
        "readOnlyHint",
        "destructiveHint",
        "idempotentHint",
        "openWorldHint",
    }


def test_workflow_tools_share_the_step_fields() -> None:
    """Every workflow tool takes the same step fields, built once."""
    for name in ("thinkdeep", "analyze", "codereview", "debug", "planner", "consensus", "precommit",
                 "refactor", "secaudit", "testgen", "docgen", "tracer"):  # fmt: skip
        properties = SPECS[name].input_schema["properties"]
        for field, schema in STEP_FIELDS.items():
            assert properties[field] is schema, (name, field)


def test_every_spec_has_an_implementation_and_every_implementation_a_spec() -> None:
    """The worker's table matches the specs exactly, so no tool is silently missing."""
    from workers.tools import IMPLEMENTATIONS

    assert set(IMPLEMENTATIONS) == set(SPECS)
    assert all(callable(function) for function in IMPLEMENTATIONS.values())


def test_every_tool_module_imports_on_its_own() -> None:
    """Each tool module imports in a fresh interpreter: no import error is hidden by import order."""
    modules = [
        "workers.tools.chat", "workers.tools.challenge", "workers.tools.status", "workers.tools.planner",
        "workers.tools.consensus", "workers.tools.workflows", "workers.tools.kimi_chat_with_tools",
        "workers.tools.glm_web_search", "workers.tools.listmodels", "workers.tools.version",
        "contracts.tool_specs.workflow", "contracts.tool_specs.simple", "contracts.tool_specs.provider",
    ]  # fmt: skip
    for module in modules:
        done = subprocess.run(
            [sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, f"{module}: {done.stderr}"
    importlib.import_module("workers.tools")


@pytest.mark.parametrize("suffix", ["_EXAI-WS", "-EXAI-WS", "_EXAI_WS", "-EXAI_WS"])
def test_old_client_suffixes_name_the_same_tool(suffix: str) -> None:
    """`codereview_EXAI-WS` and friends are `codereview`."""
    assert canonical_tool_name(f"codereview{suffix}") == "codereview"


def test_arguments_of_a_workflow_step_validate_against_its_schema() -> None:
    """A typical step validates; a wrong confidence level does not."""
    validator = Draft202012Validator(SPECS["debug"].input_schema)
    step = {"step": "look", "step_number": 1, "total_steps": 2, "next_step_required": True, "findings": "x"}
    assert not list(validator.iter_errors(step))
    assert list(validator.iter_errors({**step, "confidence": "sure"}))


def test_an_image_sent_as_a_data_url_passes_validation() -> None:
    """A real image as a data: URL (here 300 KB of base64) is a valid ``images`` item; its decoded
    size is the worker's to check against EXAI_IMAGE_MAX_BYTES."""
    import base64

    url = "data:image/png;base64," + base64.b64encode(b"\x89PNG" + b"\0" * 225_000).decode()
    validator = Draft202012Validator(SPECS["chat"].input_schema)
    assert list(validator.iter_errors({"prompt": "what is in it?", "images": [url]})) == []
