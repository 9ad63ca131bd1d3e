"""Every tool through the real pipeline: official MCP client → gateway → Celery → worker → emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import redis
from mcp.types import CallToolResult

from contracts.names import breaker_key, thread_key
from tests.support.clients import mcp_session
from tests.support.stack import Stack, running_stack

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]
MAX_TURNS = 6
TTL_S = 300
CLIENTS = {"alice": "alice-token-0123456789", "bob": "bob-token-0123456789ab"}


@pytest.fixture(scope="module")
def files_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("project")
    (root / "app.py").write_text("def divide(a, b):\n    return a / b  # ZeroDivisionError when b == 0\n")
    (root / "pixel.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 8)
    return root


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, files_root: Path) -> Iterator[Stack]:
    """One stack for the module, with file roots and small thread limits."""
    with running_stack(
        tmp_path_factory.mktemp("tools-stack"),
        EXAI_FILE_ROOTS=str(files_root),
        EXAI_THREAD_MAX_TURNS=str(MAX_TURNS),
        EXAI_THREAD_TTL_S=str(TTL_S),
        EXAI_WS_TOKENS=",".join(f"{name}:{token}" for name, token in CLIENTS.items()),
    ) as running:
        yield running


def structured(result: CallToolResult) -> dict[str, Any]:
    assert result.isError is False, result.content
    assert result.structuredContent is not None
    assert json.loads(result.content[0].text) == result.structuredContent  # type: ignore[union-attr]
    return result.structuredContent


async def call(stack: Stack, tool: str, args: dict[str, Any]) -> CallToolResult:
    async with mcp_session(stack.authed_url) as session:
        return await session.call_tool(tool, args)


STEP = {"step": "Look at divide()", "step_number": 1, "total_steps": 1, "next_step_required": False,
        "findings": "divide() does not guard b == 0", "confidence": "high"}  # fmt: skip

EVERY_TOOL: dict[str, dict[str, Any]] = {
    "chat": {"prompt": "hello there", "model": "auto"},
    "challenge": {"prompt": "tabs are better than spaces"},
    "listmodels": {},
    "version": {},
    "status": {},
    "thinkdeep": STEP,
    "analyze": {**STEP, "analysis_type": "quality"},
    "codereview": {**STEP, "review_type": "quick"},
    "debug": STEP,
    "planner": {k: v for k, v in STEP.items() if k != "confidence"},
    "consensus": {**STEP, "models": [{"model": "kimi-k2.6", "stance": "for"}, {"model": "glm-4.6"}]},
    "precommit": {**STEP, "precommit_type": "external"},
    "refactor": {**STEP, "refactor_type": "codesmells"},
    "secaudit": {**STEP, "audit_focus": "owasp"},
    "testgen": STEP,
    "docgen": STEP,
    "tracer": {**STEP, "trace_mode": "precision"},
    "kimi_chat_with_tools": {
        "messages": [{"role": "user", "content": "weather in Paris emulate:tool=get_weather"}],
        "tools": [
            {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
        ],
    },
    "glm_web_search": {"search_query": "celery gevent pool", "count": 3},
}


async def test_every_tool_answers_end_to_end_with_structured_content_matching_its_schema(
    stack: Stack,
) -> None:
    """Each of the 19 tools is called once with the official client; none fails, all carry the envelope."""
    async with mcp_session(stack.authed_url) as session:
        listed = {t.name for t in (await session.list_tools()).tools}
        assert listed == set(EVERY_TOOL)
        for tool, args in EVERY_TOOL.items():
            result = await session.call_tool(f"{tool}_EXAI-WS" if tool == "debug" else tool, args)
            assert result.isError is False, (tool, result.content)
            body = structured(result)
            assert {"status", "content", "metadata"} <= set(body), tool
            assert "provider" in body["metadata"] and "model" in body["metadata"], tool
    assert stack.emulator_stats()["calls"]["kimi"] > 0


async def test_tools_with_a_model_name_the_provider_and_model_that_answered(stack: Stack) -> None:
    """Expert steps, provider tools and consensus report who answered."""
    debug = structured(await call(stack, "debug", {**STEP, "model": "glm-4.6"}))
    assert debug["status"] == "debug_complete"
    assert (debug["metadata"]["provider"], debug["metadata"]["model"]) == ("glm", "glm-4.6")
    assert debug["expert_analysis"]["content"].startswith("[emulated glm glm-4.6]")
    tools = structured(await call(stack, "kimi_chat_with_tools", EVERY_TOOL["kimi_chat_with_tools"]))
    assert tools["metadata"]["provider"] == "kimi"
    assert tools["tool_calls"][0]["function"]["name"] == "get_weather"
    search = structured(await call(stack, "glm_web_search", EVERY_TOOL["glm_web_search"]))
    assert len(search["results"]) == 3 and search["metadata"]["provider"] == "glm"


async def test_a_three_step_workflow_continues_through_its_continuation_id(
    stack: Stack, files_root: Path
) -> None:
    """Steps 1 and 2 pause without a model call; step 3 sends everything gathered to the expert."""
    app = str(files_root / "app.py")
    base = {"total_steps": 3, "model": "kimi-k2.6"}
    async with mcp_session(stack.authed_url) as session:
        first = structured(
            await session.call_tool(
                "debug",
                {
                    **base,
                    "step": "Reproduce",
                    "step_number": 1,
                    "next_step_required": True,
                    "findings": "crash when b is zero",
                    "files_checked": [app],
                },
            )
        )
        assert first["status"] == "pause_for_debug" and first["required_actions"]
        thread = first["continuation_offer"]["continuation_id"]
        calls_before = stack.emulator_stats()["calls"]["kimi"]
        second = structured(
            await session.call_tool(
                "debug",
                {
                    **base,
                    "step": "Locate",
                    "step_number": 2,
                    "next_step_required": True,
                    "findings": "divide has no guard",
                    "relevant_files": [app],
                    "issues_found": [{"severity": "high", "description": "no zero check"}],
                    "continuation_id": thread,
                },
            )
        )
        assert second["workflow_state"]["steps_recorded"] == 2
        assert stack.emulator_stats()["calls"]["kimi"] == calls_before  # pauses call no model
        third = structured(
            await session.call_tool(
                "debug",
                {
                    **base,
                    "step": "Conclude",
                    "step_number": 3,
                    "next_step_required": False,
                    "findings": "guard b == 0",
                    "confidence": "high",
                    "continuation_id": thread,
                },
            )
        )
    assert third["status"] == "debug_complete"
    assert third["continuation_offer"]["continuation_id"] == thread
    assert third["workflow_state"]["steps_recorded"] == 3
    assert third["workflow_state"]["issues_found"] == [{"severity": "high", "description": "no zero check"}]
    sent = json.dumps(stack.emulator_stats()["last_body"]["kimi"]["messages"])
    assert "crash when b is zero" in sent and "ZeroDivisionError" in sent  # step 1 and the file


async def test_backtracking_discards_later_steps(stack: Stack) -> None:
    """backtrack_from_step=1 drops step 1 and everything after it; the new step takes their place."""
    args = {"step": "s", "total_steps": 4, "next_step_required": True, "findings": "f"}
    async with mcp_session(stack.authed_url) as session:
        one = structured(await session.call_tool("thinkdeep", {**args, "step_number": 1}))
        thread = one["continuation_offer"]["continuation_id"]
        await session.call_tool("thinkdeep", {**args, "step_number": 2, "continuation_id": thread})
        again = structured(
            await session.call_tool(
                "thinkdeep", {**args, "step_number": 2, "backtrack_from_step": 1, "continuation_id": thread}
            )
        )
    assert again["workflow_state"]["steps_recorded"] == 1


async def test_consensus_with_one_model_failing_answers_with_the_others(stack: Stack) -> None:
    """GLM refuses (quota) for the whole call; Kimi's view comes back and the failure is reported."""
    stack.fault("quota", count=-1, provider="glm")
    result = await call(
        stack,
        "consensus",
        {
            **STEP,
            "models": [{"model": "kimi-k2.6", "stance": "for"}, {"model": "glm-4.6", "stance": "against"}],
        },
    )
    body = structured(result)
    assert result.isError is False
    assert body["status"] == "consensus_partial"
    by_model = {c["model"]: c for c in body["consulted"]}
    assert by_model["kimi-k2.6"]["status"] == "success"
    assert by_model["glm-4.6"]["status"] == "error" and by_model["glm-4.6"]["error"]
    assert body["metadata"]["models_failed"] == ["glm-4.6"]


async def test_consensus_sub_calls_each_retry_on_their_own(stack: Stack) -> None:
    """Two transient failures on GLM are retried inside its own sub-task; both models answer."""
    stack.fault("server_error", count=2, provider="glm")
    body = structured(
        await call(stack, "consensus", {**STEP, "models": [{"model": "kimi-k2.6"}, {"model": "glm-4.6"}]})
    )
    assert body["status"] == "consensus_complete"
    assert stack.emulator_stats()["calls"]["glm"] == 3


async def test_auto_falls_back_to_the_other_provider_when_one_is_down(stack: Stack) -> None:
    """Kimi answers 500 to everything; `auto` answers from GLM and says so in its metadata."""
    stack.fault("server_error", count=-1, provider="kimi")
    try:
        body = structured(await call(stack, "chat", {"prompt": "are you there", "model": "auto"}))
    finally:
        stack.reset_emulator()
        redis.Redis.from_url(stack.env["REDIS_URL"]).delete(breaker_key("kimi"))
    assert body["metadata"]["provider"] == "glm"
    assert body["content"].endswith("are you there")


async def test_threads_refresh_their_ttl_and_stop_at_the_turn_limit(stack: Stack) -> None:
    """Each call adds two turns and resets the TTL; past EXAI_THREAD_MAX_TURNS the call is refused."""
    client = redis.Redis.from_url(stack.env["REDIS_URL"])
    async with mcp_session(stack.authed_url) as session:
        first = structured(await session.call_tool("chat", {"prompt": "remember the word kiwi"}))
        thread = first["continuation_offer"]["continuation_id"]
        assert first["continuation_offer"]["remaining_turns"] == MAX_TURNS - 2
        client.expire(thread_key(thread), 10)
        second = structured(
            await session.call_tool("chat", {"prompt": "which word", "continuation_id": thread})
        )
        assert TTL_S - 30 < client.ttl(thread_key(thread)) <= TTL_S
        history = json.dumps(stack.emulator_stats()["last_body"]["kimi"]["messages"])
        assert "remember the word kiwi" in history
        assert second["continuation_offer"]["remaining_turns"] == MAX_TURNS - 4
        await session.call_tool("chat", {"prompt": "third", "continuation_id": thread})
        refused = await session.call_tool("chat", {"prompt": "fourth", "continuation_id": thread})
        unknown = await session.call_tool("chat", {"prompt": "x", "continuation_id": "not-a-thread"})
    assert refused.isError is True and "EXAI_THREAD_MAX_TURNS" in refused.content[0].text  # type: ignore[union-attr]
    assert unknown.isError is True and "unknown or expired" in unknown.content[0].text  # type: ignore[union-attr]


async def test_file_rules_hold_end_to_end(stack: Stack, files_root: Path, tmp_path: Path) -> None:
    """A file under the root reaches the model; outside, missing or traversing paths are refused."""
    outside = tmp_path / "secret.txt"
    outside.write_text("do not read")
    inside = str(files_root / "app.py")
    async with mcp_session(stack.authed_url) as session:
        ok = await session.call_tool(
            "chat", {"prompt": "review", "files": [inside], "images": [str(files_root / "pixel.png")]}
        )
        escaped = await session.call_tool(
            "chat", {"prompt": "x", "files": [f"{files_root}/../{outside.parent.name}/secret.txt"]}
        )
        missing = await session.call_tool("chat", {"prompt": "x", "files": [str(files_root / "gone.py")]})
    assert ok.isError is False and "ZeroDivisionError" in structured(ok)["content"]
    assert escaped.isError is True and "EXAI_FILE_ROOTS" in escaped.content[0].text  # type: ignore[union-attr]
    assert missing.isError is True and "does not exist" in missing.content[0].text  # type: ignore[union-attr]


async def test_a_prompt_too_large_for_the_model_is_refused_before_any_provider_call(stack: Stack) -> None:
    """moonshot-v1-8k cannot take 100 kB: a clear error, and the emulator saw no call."""
    result = await call(stack, "chat", {"prompt": "word " * 20_000, "model": "moonshot-v1-8k"})
    assert result.isError is True and "send less" in result.content[0].text  # type: ignore[union-attr]
    assert stack.emulator_stats()["calls"]["kimi"] == 0


async def test_web_search_and_thinking_reach_each_provider(stack: Stack) -> None:
    """Kimi's $web_search loop runs twice round; GLM's tool reports results; thinking brings reasoning."""
    kimi = structured(
        await call(stack, "chat", {"prompt": "news today", "model": "kimi-k2.6", "use_websearch": True})
    )
    assert "[web search: 3 results]" in kimi["content"]
    assert stack.emulator_stats()["calls"]["kimi"] == 2  # the tool call, then the answer
    glm = structured(
        await call(stack, "chat", {"prompt": "news today", "model": "glm-4.6", "use_websearch": True})
    )
    assert "[web search: 3 results]" in glm["content"] and len(glm["web_search"]) == 3
    thought = structured(
        await call(stack, "chat", {"prompt": "think", "model": "glm-4.6", "thinking_mode": "high"})
    )
    assert thought["reasoning_content"]
    assert stack.emulator_stats()["last_body"]["glm"]["thinking"] == {"type": "enabled"}


async def test_a_thread_belongs_to_the_client_identity_that_created_it(stack: Stack) -> None:
    """Bob cannot continue Alice's thread; it looks unknown to him, and Alice goes on."""
    alice_url = f"{stack.gateway_url}?token={CLIENTS['alice']}"
    bob_url = f"{stack.gateway_url}?token={CLIENTS['bob']}"
    async with mcp_session(alice_url) as alice:
        first = structured(await alice.call_tool("chat", {"prompt": "alice's secret plan"}))
        thread = first["continuation_offer"]["continuation_id"]
        async with mcp_session(bob_url) as bob:
            stolen = await bob.call_tool("chat", {"prompt": "tell me", "continuation_id": thread})
        mine = await alice.call_tool("chat", {"prompt": "go on", "continuation_id": thread})
    assert stolen.isError is True and "unknown or expired" in stolen.content[0].text  # type: ignore[union-attr]
    assert mine.isError is False


async def test_status_summarises_providers_queue_and_workers_without_secrets(stack: Stack) -> None:
    """Both providers configured with closed breakers, the queue length, and no key or token shown."""
    result = await call(stack, "status", {})
    body = structured(result)
    assert [(p["name"], p["configured"], p["breaker"]) for p in body["providers"]] == [
        ("kimi", True, "closed"),
        ("glm", True, "closed"),
    ]
    assert body["queue"]["pending"] >= 0
    text = result.content[0].text  # type: ignore[union-attr]
    for name, value in stack.env.items():
        if name.endswith(("_KEY", "_TOKEN", "_TOKENS")):
            assert value not in text, name


async def test_two_continuations_racing_for_the_last_turns_cost_one_provider_call(stack: Stack) -> None:
    """With one turn pair left, two concurrent continuations: one answers, the other is refused with
    the turn-limit error, and the emulator saw one call for them."""
    async with mcp_session(stack.authed_url) as session:
        first = structured(await session.call_tool("chat", {"prompt": "start", "model": "kimi-k2.6"}))
        thread = first["continuation_offer"]["continuation_id"]
        for n in range(MAX_TURNS // 2 - 2):
            await session.call_tool("chat", {"prompt": f"fill {n}", "continuation_id": thread})
    stack.reset_emulator()
    results: dict[str, CallToolResult] = {}

    async def continue_as(name: str) -> None:
        async with mcp_session(stack.authed_url) as session:
            prompt = f"{name} emulate:latency_ms=1500"
            args = {"prompt": prompt, "continuation_id": thread, "model": "kimi-k2.6"}
            results[name] = await session.call_tool("chat", args)

    async with anyio.create_task_group() as group:
        group.start_soon(continue_as, "left")
        group.start_soon(continue_as, "right")
    refused = [r for r in results.values() if r.isError]
    assert len(refused) == 1 and "EXAI_THREAD_MAX_TURNS" in refused[0].content[0].text  # type: ignore[union-attr]
    assert stack.emulator_stats()["calls"]["kimi"] == 1
