"""Specs of the provider-specific tools: Kimi's raw tool calling and GLM's web search."""

from __future__ import annotations

from contracts.tool_specs.common import MODEL, READ_ONLY_MODEL_CALL, USAGE, input_schema
from contracts.tools import ToolSpec, envelope_schema

KIMI_CHAT_WITH_TOOLS = ToolSpec(
    name="kimi_chat_with_tools",
    title="Kimi chat with tools",
    description=(
        "Send raw OpenAI-style messages and tool definitions to a Kimi model and get back its text and "
        "tool calls, for agents that run their own tool loop. use_websearch adds Kimi's $web_search."
    ),
    input_schema=input_schema(
        {
            "messages": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "properties": {
                        "role": {"type": "string", "enum": ["system", "user", "assistant", "tool"]}
                    },
                    "required": ["role"],
                },
            },
            "tools": {"type": "array", "items": {"type": "object"}},
            "tool_choice": {"type": ["string", "object"]},
            "model": MODEL,
            "temperature": {"type": "number", "minimum": 0, "maximum": 2},
            "max_tokens": {"type": "integer", "minimum": 1},
            "use_websearch": {"type": "boolean"},
        },
        ["messages"],
    ),
    output_schema=envelope_schema(
        {
            "tool_calls": {"type": ["array", "null"], "items": {"type": "object"}},
            "finish_reason": {"type": ["string", "null"]},
            "reasoning_content": {"type": ["string", "null"]},
        }
    ),
    annotations=READ_ONLY_MODEL_CALL,
)

GLM_WEB_SEARCH = ToolSpec(
    name="glm_web_search",
    title="GLM web search",
    description="Search the web with GLM's search API and get titles, links and snippets.",
    input_schema=input_schema(
        {
            "search_query": {"type": "string", "minLength": 1, "maxLength": 1000},
            "count": {"type": "integer", "minimum": 1, "maximum": 50},
            "search_engine": {"type": "string", "minLength": 1, "maxLength": 64},
            "search_recency_filter": {
                "type": "string",
                "enum": ["oneDay", "oneWeek", "oneMonth", "oneYear", "noLimit"],
            },
            "search_domain_filter": {"type": "string"},
        },
        ["search_query"],
    ),
    output_schema=envelope_schema(
        {
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "title": {"type": "string"},
                        "link": {"type": "string"},
                        "content": {"type": "string"},
                    },
                },
            },
            "usage": USAGE,
        }
    ),
    annotations=READ_ONLY_MODEL_CALL,
)

SPECS = (KIMI_CHAT_WITH_TOOLS, GLM_WEB_SEARCH)
