"""The emulator's web search (Kimi $web_search loop, GLM web_search tool and API) and thinking."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.emulator import running_emulator

AUTH = {"Authorization": "Bearer test-key"}
KIMI_SEARCH = {"type": "builtin_function", "function": {"name": "$web_search"}}


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with running_emulator() as url, httpx.Client(base_url=url, timeout=10, headers=AUTH) as client:
        yield client


def chat(http: httpx.Client, path: str, body: dict[str, Any]) -> httpx.Response:
    return http.post(f"{path}/chat/completions", json=body)


def test_kimi_asks_for_web_search_then_answers_once_the_call_is_echoed(http: httpx.Client) -> None:
    """First a $web_search tool call; after the echoed tool message, the marked answer."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": "latest news"}]
    first = chat(http, "/v1", {"model": "kimi-k2.6", "messages": messages, "tools": [KIMI_SEARCH]}).json()
    choice = first["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    call = choice["message"]["tool_calls"][0]
    assert call["function"]["name"] == "$web_search"
    json.loads(call["function"]["arguments"])
    messages += [
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {
            "role": "tool",
            "tool_call_id": call["id"],
            "name": "$web_search",
            "content": call["function"]["arguments"],
        },
    ]
    second = chat(http, "/v1", {"model": "kimi-k2.6", "messages": messages, "tools": [KIMI_SEARCH]}).json()
    assert (
        second["choices"][0]["message"]["content"]
        == "[emulated kimi kimi-k2.6] [web search: 3 results] latest news"
    )


def test_kimi_refuses_web_search_with_thinking_on(http: httpx.Client) -> None:
    """As Kimi does: $web_search and thinking together are a 400."""
    body = {
        "model": "kimi-k2.6",
        "messages": [{"role": "user", "content": "x"}],
        "tools": [KIMI_SEARCH],
        "thinking": {"type": "enabled"},
    }
    assert chat(http, "/v1", body).status_code == 400


def test_glm_web_search_tool_reports_results_plain_and_streamed(http: httpx.Client) -> None:
    """The body, or the first stream chunk, carries web_search results."""
    body = {
        "model": "glm-4.6",
        "messages": [{"role": "user", "content": "celery"}],
        "tools": [{"type": "web_search"}],
    }
    plain = chat(http, "/api/paas/v4", body).json()
    assert (
        len(plain["web_search"]) == 3
        and "[web search: 3 results]" in plain["choices"][0]["message"]["content"]
    )
    streamed = chat(http, "/api/paas/v4", {**body, "stream": True}).text
    first = json.loads(streamed.split("\n\n")[0].removeprefix("data: "))
    assert len(first["web_search"]) == 3


def test_glm_search_api_answers_count_results_and_checks_its_input(http: httpx.Client) -> None:
    """POST /web_search gives `count` results; no query is a 400."""
    found = http.post("/api/paas/v4/web_search", json={"search_query": "redis", "count": 5}).json()
    assert len(found["search_result"]) == 5 and found["search_result"][0]["link"].startswith("https://")
    assert http.post("/api/paas/v4/web_search", json={}).status_code == 400


def test_thinking_enabled_streams_reasoning_before_the_answer(http: httpx.Client) -> None:
    """reasoning_content chunks come first when thinking is on."""
    body = {
        "model": "glm-4.6",
        "messages": [{"role": "user", "content": "why"}],
        "thinking": {"type": "enabled"},
    }
    plain = chat(http, "/api/paas/v4", body).json()
    assert len(plain["choices"][0]["message"]["reasoning_content"].split()) == 8
    off = chat(http, "/api/paas/v4", {**body, "thinking": {"type": "disabled"}}).json()
    assert "reasoning_content" not in off["choices"][0]["message"]
