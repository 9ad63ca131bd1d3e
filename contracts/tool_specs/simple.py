"""Specs of the simple tools: chat, challenge, listmodels, version, status."""

from __future__ import annotations

from contracts.tool_specs.common import (
    COMMON_INPUTS,
    LOCAL_READ,
    READ_ONLY_MODEL_CALL,
    REASONING_OUTPUT,
    input_schema,
)
from contracts.tools import ToolSpec, envelope_schema

CHAT = ToolSpec(
    name="chat",
    title="Chat",
    description=(
        "Ask a Kimi or GLM model a question and get its answer: brainstorming, second opinions, "
        "explanations. Accepts files and images, continues conversations with continuation_id, and "
        "streams progress while the model writes."
    ),
    input_schema=input_schema(
        {
            "prompt": {"type": "string", "minLength": 1, "description": "The question or request."},
            **COMMON_INPUTS,
            "system_prompt": {"type": "string", "description": "Replaces the default system prompt."},
            "max_tokens": {"type": "integer", "minimum": 1, "description": "Cap on the reply's length."},
        },
        ["prompt"],
    ),
    output_schema=envelope_schema(REASONING_OUTPUT),
    annotations=READ_ONLY_MODEL_CALL,
)

CHALLENGE = ToolSpec(
    name="challenge",
    title="Challenge a statement",
    description=(
        "Wrap a claim or a disagreement in instructions to evaluate it critically instead of agreeing "
        "by reflex. No model is called: the wrapped text comes back for the calling agent to act on."
    ),
    input_schema=input_schema(
        {"prompt": {"type": "string", "minLength": 1, "description": "The statement to challenge."}},
        ["prompt"],
    ),
    output_schema=envelope_schema(
        {"original_statement": {"type": "string"}, "challenge_prompt": {"type": "string"}}
    ),
    annotations=LOCAL_READ,
)

LISTMODELS = ToolSpec(
    name="listmodels",
    title="List models",
    description="List the models this server can use, by provider, with their context windows.",
    input_schema=input_schema({}, []),
    output_schema=envelope_schema(
        {
            "models": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "provider": {"type": "string"},
                        "context_window": {"type": "integer"},
                        "configured": {"type": "boolean"},
                    },
                    "required": ["name", "provider", "context_window", "configured"],
                },
            }
        }
    ),
    annotations=LOCAL_READ,
)

VERSION = ToolSpec(
    name="version",
    title="Server version",
    description="Show the server's version, protocol versions and configured providers.",
    input_schema=input_schema({}, []),
    output_schema=envelope_schema(
        {"version": {"type": "string"}, "providers": {"type": "array", "items": {"type": "string"}}}
    ),
    annotations=LOCAL_READ,
)

STATUS = ToolSpec(
    name="status",
    title="Server status",
    description=(
        "Which providers are configured and their circuit-breaker state, how many models, how many "
        "calls are queued, and which workers are alive. Never shows secrets."
    ),
    input_schema=input_schema({}, []),
    output_schema=envelope_schema(
        {
            "providers": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "configured": {"type": "boolean"},
                        "models": {"type": "integer"},
                        "default_model": {"type": "string"},
                        "breaker": {"type": "string"},
                    },
                    "required": ["name", "configured", "models", "breaker"],
                },
            },
            "queue": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "pending": {"type": "integer"},
                    "history_pending": {"type": "integer", "description": "Supabase writes waiting"},
                },
            },
            "workers": {"type": "array", "items": {"type": "object"}},
        }
    ),
    annotations=LOCAL_READ,
)

SPECS = (CHAT, CHALLENGE, LISTMODELS, VERSION, STATUS)
