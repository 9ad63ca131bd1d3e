"""The implementations of the conformance fixture pack's tools (``tests.conformance.fixture_pack``).

They run on workers like any tool: progress through ``ctx.progress``, logs through ``ctx.log``,
questions to the client through ``NeedInput`` (asked only through what the client declared), waits
through ``ctx.sleep`` (so cancellation and the deadline stop them at once), list changes published
on ``LIST_CHANGED_CHANNEL``. Texts follow the suite's scenarios and reference server.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from contracts.answers import (
    NeedInput,
    ProtocolFailure,
    Reply,
    accepted,
    answer,
    audio_block,
    elicitation,
    elicitation_action,
    image_block,
    list_roots,
    missing_capability,
    reply,
    resource_block,
    roots_of,
    sampled_text,
    sampling,
    text_block,
)
from contracts.names import LIST_CHANGED_CHANNEL
from tests.conformance.fixture_pack import PNG_BASE64, WAV_BASE64
from workers.context import ToolContext

Answer = Reply | NeedInput
Tool = Callable[[ToolContext, dict[str, Any]], Answer]

NAME_FORM = {"name": {"type": "string"}}
CONFIRM_FORM = {"ok": {"type": "boolean"}}


def _text(text: str, *, is_error: bool = False) -> Reply:
    return reply(text_block(text), is_error=is_error)


def _needs(ctx: ToolContext, capability: str, tool: str) -> None:
    if not ctx.declares(capability):
        raise missing_capability({capability: {}}, f"tool {tool!r}")


# --- content -----------------------------------------------------------------------------------
def simple_text(ctx: ToolContext, args: dict[str, Any]) -> Answer:
    return _text("This is a simple text response for testing.")


def image_content(ctx: ToolContext, args: dict[str, Any]) -> Answer:
    return reply(image_block(PNG_BASE64, "image/png"))


def audio_content(ctx: ToolContext, args: dict[str, Any]) -> Answer:
    return reply(audio_block(WAV_BASE64, "audio/wav"))


def embedded_resource(ctx: ToolContext, args: dict[str, Any]) -> Answer:
    text = "This is an embedded resource content."
    return reply(resource_block("test://embedded-resource", "text/plain", text=text))


def multiple_content_types(ctx: ToolContext, args: dict[str, Any]) -> Answer:
    data = json.dumps({"test": "data", "value": 123})
    return reply(
        text_block("Multiple content types test:"),
        image_block(PNG_BASE64, "image/png"),
        resource_block("test://mixed-content-resource", "application/json", text=data),
    )


def error_handling(ctx: ToolContext, args: dict[str, Any]) -> Answer:
    return _text("This tool intentionally returns an error for testing", is_error=True)


# --- progress, logs, capabilities, list changes -------------------------------------------------
def with_progress(ctx: ToolContext, args: dict[str, Any]) -> Answer:
    for number, value in enumerate((0, 50, 100)):
        if number:
            ctx.sleep(0.05)
        ctx.progress(float(value), 100.0, f"Completed step {value} of 100", force=True)
    return _text("Progress reported: 0, 50 and 100 of 100")


def with_logging(ctx: ToolContext, args: dict[str, Any]) -> Answer:
    for number, message in enumerate(
        ("Tool execution started", "Tool processing data", "Tool execution completed")
    ):
        if number:
            ctx.sleep(0.05)
        ctx.log("info", message, logger="conformance-test-server")
    return _text("Tool with logging executed successfully")


def logging_tool(ctx: ToolContext, args: dict[str, Any]) -> Answer:
    ctx.log("info", "Diagnostic trace logging activated")  # sent only if the request asked for logs
    return _text("Logging evaluated")


def missing_capability_tool(ctx: ToolContext, args: dict[str, Any]) -> Answer:
    _needs(ctx, "sampling", "test_missing_capability")  # the gateway refuses it earlier, by its spec
    return _text("Success")


def streaming_elicitation(ctx: ToolContext, args: dict[str, Any]) -> Answer:
    # Its response stream carries notifications only: progress, then the result; never a request.
    ctx.progress(50.0, 100.0, "streaming", force=True)
    return _text("Streaming complete")


def _trigger(kind: str) -> Tool:
    def trigger(ctx: ToolContext, args: dict[str, Any]) -> Answer:
        if ctx.redis is None:
            raise RuntimeError("the list-change hook needs the worker's Redis")
        ctx.redis.publish(LIST_CHANGED_CHANNEL, kind)
        return _text("Mutation triggered")

    return trigger


# --- legacy server→client requests (2025): the same NeedInput, asked as requests by the gateway ---
def sampling_tool(ctx: ToolContext, args: dict[str, Any]) -> Answer:
    if not ctx.declares("sampling"):
        return _text("Sampling not supported: the client did not declare the sampling capability")
    text = sampled_text(ctx.input_responses, "sampling")
    if text is None:
        raise NeedInput({"sampling": sampling(args["prompt"], 100)})
    return _text(f"LLM response: {text}")


def _elicited(ctx: ToolContext, key: str, request: dict[str, Any], prefix: str) -> Answer:
    if not ctx.declares("elicitation"):
        return _text("Elicitation not supported: the client did not declare the elicitation capability")
    action = elicitation_action(ctx.input_responses, key)
    if action is None:
        raise NeedInput({key: request})
    content = (answer(ctx.input_responses, key) or {}).get("content") or {}
    return _text(f"{prefix}: action={action}, content={json.dumps(content)}")


def elicitation_tool(ctx: ToolContext, args: dict[str, Any]) -> Answer:
    form = elicitation(
        args["message"], {"response": {"type": "string", "description": "User's response"}}, ["response"]
    )
    return _elicited(ctx, "response", form, "User response")


DEFAULTS_FORM = {
    "name": {"type": "string", "description": "User name", "default": "John Doe"},
    "age": {"type": "integer", "description": "User age", "default": 30},
    "score": {"type": "number", "description": "User score", "default": 95.5},
    "status": {
        "type": "string",
        "description": "User status",
        "enum": ["active", "inactive", "pending"],
        "default": "active",
    },
    "verified": {"type": "boolean", "description": "Verification status", "default": True},
}
ENUMS_FORM = {
    "untitledSingle": {
        "type": "string",
        "description": "Select one option",
        "enum": ["option1", "option2", "option3"],
    },
    "titledSingle": {
        "type": "string",
        "description": "Select one option with titles",
        "oneOf": [
            {"const": "value1", "title": "First Option"},
            {"const": "value2", "title": "Second Option"},
            {"const": "value3", "title": "Third Option"},
        ],
    },
    "legacyEnum": {
        "type": "string",
        "description": "Select one option (legacy)",
        "enum": ["opt1", "opt2", "opt3"],
        "enumNames": ["Option One", "Option Two", "Option Three"],
    },
    "untitledMulti": {
        "type": "array",
        "description": "Select multiple options",
        "minItems": 1,
        "maxItems": 3,
        "items": {"type": "string", "enum": ["option1", "option2", "option3"]},
    },
    "titledMulti": {
        "type": "array",
        "description": "Select multiple options with titles",
        "minItems": 1,
        "maxItems": 3,
        "items": {
            "anyOf": [
                {"const": "value1", "title": "First Choice"},
                {"const": "value2", "title": "Second Choice"},
                {"const": "value3", "title": "Third Choice"},
            ]
        },
    },
}


def elicitation_defaults(ctx: ToolContext, args: dict[str, Any]) -> Answer:
    form = elicitation("Please review and update the form fields with defaults", DEFAULTS_FORM)
    return _elicited(ctx, "form", form, "Elicitation completed")


def elicitation_enums(ctx: ToolContext, args: dict[str, Any]) -> Answer:
    form = elicitation("Please select options from the enum fields", ENUMS_FORM)
    return _elicited(ctx, "form", form, "Elicitation completed")


# --- MRTR (2026): input_required results, the continuation sealed in requestState ---------------
def _name(ctx: ToolContext, key: str) -> str | None:
    content = accepted(ctx.input_responses, key)
    name = content.get("name") if content is not None else None
    return name if isinstance(name, str) else None


def mrtr_elicitation(ctx: ToolContext, args: dict[str, Any]) -> Answer:
    _needs(ctx, "elicitation", "test_input_required_result_elicitation")
    name = _name(ctx, "user_name")
    if name is None:  # missing, misnamed or malformed: ask again
        raise NeedInput({"user_name": elicitation("What is your name?", NAME_FORM, ["name"])})
    return _text(f"Hello, {name}!")


def mrtr_sampling(ctx: ToolContext, args: dict[str, Any]) -> Answer:
    _needs(ctx, "sampling", "test_input_required_result_sampling")
    text = sampled_text(ctx.input_responses, "capital_question")
    if text is None:
        raise NeedInput({"capital_question": sampling("What is the capital of France?", 100)})
    return _text(f"Sampling result: {text}")


def mrtr_list_roots(ctx: ToolContext, args: dict[str, Any]) -> Answer:
    _needs(ctx, "roots", "test_input_required_result_list_roots")
    roots = roots_of(ctx.input_responses, "client_roots")
    if roots is None:
        raise NeedInput({"client_roots": list_roots()})
    return _text(f"Found {len(roots)} root(s): {', '.join(root['uri'] for root in roots)}")


def _confirmed(ctx: ToolContext, key: str = "confirm") -> bool:
    content = accepted(ctx.input_responses, key)
    return content is not None and content.get("ok") is True


def mrtr_request_state(ctx: ToolContext, args: dict[str, Any]) -> Answer:
    _needs(ctx, "elicitation", "test_input_required_result_request_state")
    state = {"kind": "request-state"}
    if ctx.continuation == state and _confirmed(ctx):
        return _text("state-ok: requestState validated")
    raise NeedInput({"confirm": elicitation("Please confirm", CONFIRM_FORM, ["ok"])}, state)


def mrtr_multiple_inputs(ctx: ToolContext, args: dict[str, Any]) -> Answer:
    asks: dict[str, dict[str, Any]] = {}
    if ctx.declares("elicitation"):
        asks["user_name"] = elicitation("What is your name?", NAME_FORM, ["name"])
    if ctx.declares("sampling"):
        asks["greeting"] = sampling("Generate a greeting", 50)
    if ctx.declares("roots"):
        asks["client_roots"] = list_roots()
    if not asks:
        return _text("No supported capabilities declared")
    state = {"kind": "multiple-inputs"}
    name, greeting = _name(ctx, "user_name"), sampled_text(ctx.input_responses, "greeting")
    roots = roots_of(ctx.input_responses, "client_roots")
    have = {
        "user_name": name is not None,
        "greeting": greeting is not None,
        "client_roots": roots is not None,
    }
    if ctx.continuation != state or not all(have[key] for key in asks):
        raise NeedInput(asks, state)
    return _text(f"Name: {name}; Greeting: {greeting}; Roots: {len(roots or [])}")


def mrtr_multi_round(ctx: ToolContext, args: dict[str, Any]) -> Answer:
    _needs(ctx, "elicitation", "test_input_required_result_multi_round")
    state = ctx.continuation or {}
    if state.get("round") == 2:
        content = accepted(ctx.input_responses, "step2")
        color = content.get("color") if content is not None else None
        if isinstance(color, str) and isinstance(state.get("name"), str):
            return _text(f"Multi-round complete for {state['name']} who likes {color}")
    if state.get("round") in (1, 2):
        name = state.get("name") if state.get("round") == 2 else _name(ctx, "step1")
        if isinstance(name, str):
            form = elicitation(
                "Step 2: What is your favorite color?", {"color": {"type": "string"}}, ["color"]
            )
            raise NeedInput({"step2": form}, {"round": 2, "name": name})
    raise NeedInput({"step1": elicitation("Step 1: What is your name?", NAME_FORM, ["name"])}, {"round": 1})


def mrtr_tampered_state(ctx: ToolContext, args: dict[str, Any]) -> Answer:
    # A tampered requestState never reaches the worker: the gateway refuses it (-32602).
    _needs(ctx, "elicitation", "test_input_required_result_tampered_state")
    state = {"kind": "tamper-test"}
    if ctx.continuation == state and accepted(ctx.input_responses, "confirm") is not None:
        return _text("integrity-ok: state verified")
    raise NeedInput({"confirm": elicitation("Please confirm", CONFIRM_FORM, ["ok"])}, state)


def mrtr_capabilities(ctx: ToolContext, args: dict[str, Any]) -> Answer:
    if isinstance(ctx.input_responses, dict) and ctx.input_responses:
        return _text(f"capabilities-ok: received {','.join(ctx.input_responses)}")
    asks: dict[str, dict[str, Any]] = {}
    if ctx.declares("elicitation"):
        asks["elicit_input"] = elicitation("Elicitation input", {"value": {"type": "string"}}, ["value"])
    if ctx.declares("sampling"):
        asks["sample_input"] = sampling("Sample request", 50)
    if not asks:
        return _text("No supported capabilities declared")
    raise NeedInput(asks, {"kind": "capabilities-test"})


# --- the tasks extension's fixtures ---------------------------------------------------------------
def greet(ctx: ToolContext, args: dict[str, Any]) -> Answer:
    return _text(f"Hello, {args['name']}!")


def slow_compute(ctx: ToolContext, args: dict[str, Any]) -> Answer:
    seconds, label = float(args.get("seconds", 1)), str(args.get("label", "slow_compute"))
    done = 0.0
    while done < seconds:
        chunk = min(1.0, seconds - done)
        ctx.sleep(chunk)  # raises CallCancelled the moment the task is cancelled
        done += chunk
        ctx.progress(done, seconds, f"{label}: {done:g} of {seconds:g} s", force=True)
    return _text(f"{label}: computed for {seconds:g} s")


def failing_job(ctx: ToolContext, args: dict[str, Any]) -> Answer:
    ctx.sleep(1.0)
    return _text("failing_job failed, as it always does (a tool error, for testing)", is_error=True)


def protocol_error_job(ctx: ToolContext, args: dict[str, Any]) -> Answer:
    ctx.sleep(0.2)
    raise ProtocolFailure(-32603, "protocol_error_job ends with a protocol error, for testing")


def confirm_delete(ctx: ToolContext, args: dict[str, Any]) -> Answer:
    filename = str(args.get("filename", "the file"))
    if not ctx.declares("elicitation"):
        return _text(f"Kept {filename}: the client cannot confirm (it declared no elicitation)")
    action = elicitation_action(ctx.input_responses, "confirm")
    if action is None:
        form = elicitation(f"Delete {filename}?", {"confirm": {"type": "boolean"}}, ["confirm"])
        raise NeedInput({"confirm": form}, {"filename": filename})
    content = accepted(ctx.input_responses, "confirm") or {}
    if content.get("confirm") is True:
        return _text(f"Deleted {filename} (nothing was deleted: this is a test fixture)")
    return _text(f"Kept {filename}")


def multi_input(ctx: ToolContext, args: dict[str, Any]) -> Answer:
    _needs(ctx, "elicitation", "multi_input")
    form = {"name": {"type": "string"}, "confirm": {"type": "boolean"}}
    names = {key: _name(ctx, key) for key in ("first", "second")}
    missing = {
        key: elicitation(f"Your {key} answer?", form, ["name"]) for key, name in names.items() if name is None
    }
    if missing:  # both are asked at once; an answered one is not asked again
        raise NeedInput(missing, {"asked": sorted(missing)})
    return _text(f"Got {names['first']} and {names['second']}")


def tool_with_task(ctx: ToolContext, args: dict[str, Any]) -> Answer:
    _needs(ctx, "elicitation", "test_tool_with_task")
    name = _name(ctx, "user_name")
    if name is None:
        raise NeedInput({"user_name": elicitation("What is your name?", NAME_FORM, ["name"])})
    ctx.sleep(0.2)  # the work the task was created for
    return _text(f"Hello, {name}! (finished as a task)")


def json_schema_tool(ctx: ToolContext, args: dict[str, Any]) -> Answer:
    return _text(f"JSON Schema 2020-12 tool called with: {json.dumps(args, sort_keys=True)}")


IMPLEMENTATIONS: dict[str, Tool] = {
    "test_simple_text": simple_text,
    "test_image_content": image_content,
    "test_audio_content": audio_content,
    "test_embedded_resource": embedded_resource,
    "test_multiple_content_types": multiple_content_types,
    "test_error_handling": error_handling,
    "test_tool_with_progress": with_progress,
    "test_tool_with_logging": with_logging,
    "test_logging_tool": logging_tool,
    "test_missing_capability": missing_capability_tool,
    "test_streaming_elicitation": streaming_elicitation,
    "test_trigger_tool_change": _trigger("tools"),
    "test_trigger_prompt_change": _trigger("prompts"),
    "test_sampling": sampling_tool,
    "test_elicitation": elicitation_tool,
    "test_elicitation_sep1034_defaults": elicitation_defaults,
    "test_elicitation_sep1330_enums": elicitation_enums,
    "test_input_required_result_elicitation": mrtr_elicitation,
    "test_input_required_result_sampling": mrtr_sampling,
    "test_input_required_result_list_roots": mrtr_list_roots,
    "test_input_required_result_request_state": mrtr_request_state,
    "test_input_required_result_multiple_inputs": mrtr_multiple_inputs,
    "test_input_required_result_multi_round": mrtr_multi_round,
    "test_input_required_result_tampered_state": mrtr_tampered_state,
    "test_input_required_result_capabilities": mrtr_capabilities,
    "greet": greet,
    "slow_compute": slow_compute,
    "failing_job": failing_job,
    "protocol_error_job": protocol_error_job,
    "confirm_delete": confirm_delete,
    "multi_input": multi_input,
    "test_tool_with_task": tool_with_task,
    "json_schema_2020_12_tool": json_schema_tool,
}
