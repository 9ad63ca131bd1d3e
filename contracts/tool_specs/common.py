"""Schema pieces several tools share: model choice, thinking, web search, threads, files, images."""

from __future__ import annotations

from typing import Any

THINKING_MODES = ("minimal", "low", "medium", "high", "max")

MODEL: dict[str, Any] = {
    "type": "string",
    "minLength": 1,
    "maxLength": 128,
    "description": "Model name (see listmodels), or 'auto' to let the server choose by the tool's needs.",
}

IMAGE_ITEM_MAX_CHARS = 16_000_000  # ~12 MB decoded: above any EXAI_IMAGE_MAX_BYTES worth setting

PATHS: dict[str, Any] = {
    "type": "array",
    "items": {"type": "string", "minLength": 1, "maxLength": 4096},
    "maxItems": 200,
}

COMMON_INPUTS: dict[str, Any] = {
    "model": MODEL,
    "temperature": {"type": "number", "minimum": 0, "maximum": 2},
    "thinking_mode": {
        "type": "string",
        "enum": list(THINKING_MODES),
        "description": "How much the model reasons before answering (minimal turns thinking off).",
    },
    "use_websearch": {
        "type": "boolean",
        "description": "Let the model search the web (Kimi $web_search, GLM web_search).",
    },
    "continuation_id": {
        "type": "string",
        "minLength": 1,
        "maxLength": 128,
        "description": "Continue an earlier conversation: the continuation_id of a previous answer.",
    },
    "files": {
        **PATHS,
        "description": "Absolute paths of text files (or directories) to include, under the allowed roots.",
    },
    "images": {
        "type": "array",
        # A data: URL holds the whole image in base64; the worker checks the decoded size against
        # EXAI_IMAGE_MAX_BYTES and the gateway's frame limit bounds the request, so the schema
        # only keeps a string from being absurd.
        "items": {"type": "string", "minLength": 1, "maxLength": IMAGE_ITEM_MAX_CHARS},
        "maxItems": 20,
        "description": "Absolute image paths under the allowed roots, or data: URLs.",
    },
}

READ_ONLY_MODEL_CALL = {
    "readOnlyHint": True,
    "destructiveHint": False,
    "idempotentHint": False,
    "openWorldHint": True,
}
LOCAL_READ = {
    "readOnlyHint": True,
    "destructiveHint": False,
    "idempotentHint": True,
    "openWorldHint": False,
}

USAGE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "prompt_tokens": {"type": "integer"},
        "completion_tokens": {"type": "integer"},
        "total_tokens": {"type": "integer"},
    },
}

REASONING_OUTPUT: dict[str, Any] = {
    "reasoning_content": {
        "type": ["string", "null"],
        "description": "The model's reasoning, when thinking was on and the provider returned it.",
    },
    "web_search": {
        "type": ["array", "null"],
        "description": "Search results the provider reported using, when web search was on.",
        "items": {"type": "object"},
    },
}


def input_schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
