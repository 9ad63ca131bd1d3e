"""MCP tasks end to end: the official client's experimental task API, ownership, ttl, reconnects."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from mcp.shared.exceptions import McpError
from mcp.types import CallToolResult

from tests.support.clients import mcp_session, raw_client
from tests.support.stack import Stack, running_stack

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.e2e,
    # mcp 1.x flags its task API as moving to an extension in 2.0; the 2025-11-25 wire format stays.
    pytest.mark.filterwarnings("ignore:The experimental tasks API is deprecated:DeprecationWarning"),
]

ALICE = "alice-token-0123456789abcdef"
BOB = "bob-token-0123456789abcdefgh"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack with two named client tokens, so task ownership can be checked."""
    with running_stack(
        tmp_path_factory.mktemp("tasks"), token=None, EXAI_WS_TOKENS=f"alice:{ALICE},bob:{BOB}"
    ) as running:
        yield running


def url(stack: Stack, token: str) -> str:
    return f"{stack.gateway_url}?token={token}"


async def test_the_official_client_runs_a_tool_as_a_task_and_fetches_its_result(stack: Stack) -> None:
    """call_tool_as_task answers at once; get_task, poll_task, get_task_result and list_tasks work."""
    async with mcp_session(url(stack, ALICE)) as session:
        created = await session.experimental.call_tool_as_task(
            "chat", {"prompt": "durable hello emulate:latency_ms=300"}, ttl=120_000
        )
        task_id = created.task.taskId
        assert created.task.status == "working"
        assert created.task.ttl == 120_000
        status = await session.experimental.get_task(task_id)
        assert status.taskId == task_id
        with anyio.fail_after(30):
            seen = [s.status async for s in session.experimental.poll_task(task_id)]
        assert seen[-1] == "completed"
        result = await session.experimental.get_task_result(task_id, CallToolResult)
        assert result.isError is False
        assert result.structuredContent is not None
        assert result.structuredContent["content"].endswith("durable hello emulate:latency_ms=300")
        assert result.meta is not None
        assert result.meta["io.modelcontextprotocol/related-task"] == {"taskId": task_id}
        listed = await session.experimental.list_tasks()
        assert task_id in {t.taskId for t in listed.tasks}
        with pytest.raises(McpError) as caught:
            await session.experimental.cancel_task(task_id)
        assert caught.value.error.code == -32602


async def test_initialize_declares_tasks_and_every_tool_supports_them(stack: Stack) -> None:
    """The tasks capability is declared and tools say execution.taskSupport: optional."""
    async with raw_client(url(stack, ALICE)) as client:
        init = await client.initialize()
        capabilities = init["result"]["capabilities"]
        assert capabilities["tasks"] == {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}
        tools = (await client.request(1, "tools/list"))["result"]["tools"]
    assert tools and all(t["execution"] == {"taskSupport": "optional"} for t in tools)


async def test_tasks_result_blocks_until_done_and_works_from_a_new_connection(stack: Stack) -> None:
    """A task started on one connection is awaited on another, after the first one closed."""
    async with raw_client(url(stack, ALICE)) as first:
        await first.initialize()
        created = await first.request(
            1,
            "tools/call",
            {
                "name": "chat",
                "arguments": {"prompt": "later emulate:latency_ms=1500"},
                "task": {"ttl": 60000},
            },
        )
        task_id = created["result"]["task"]["taskId"]
    async with raw_client(url(stack, ALICE)) as second:
        await second.initialize()
        assert (await second.request(2, "tasks/get", {"taskId": task_id}))["result"]["status"] == "working"
        answer = await second.request(3, "tasks/result", {"taskId": task_id})
        status = (await second.request(4, "tasks/get", {"taskId": task_id}))["result"]
    assert answer["result"]["isError"] is False
    assert "later" in answer["result"]["structuredContent"]["content"]
    assert status["status"] == "completed"


async def test_a_plain_call_whose_client_left_is_retrievable_as_a_task(stack: Stack) -> None:
    """The client disconnects mid-call; the call completes and tasks/list + tasks/result return it."""
    async with raw_client(url(stack, BOB)) as client:
        await client.initialize()
        await client.send(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {
                    "name": "chat",
                    "arguments": {"prompt": "orphan emulate:latency_ms=1500"},
                    "_meta": {"io.exai/correlation_id": "orphan-call-1"},
                },
            }
        )
        with anyio.fail_after(20):
            while "orphan-call-1" not in stack.emulator_stats()["by_request_id"]:  # the provider has it
                await anyio.sleep(0.05)
    async with raw_client(url(stack, BOB)) as again:
        await again.initialize()
        tasks = (await again.request(2, "tasks/list"))["result"]["tasks"]
        assert tasks, "the orphaned call is not listed"
        newest = tasks[0]
        answer = await again.request(3, "tasks/result", {"taskId": newest["taskId"]})
    assert answer["result"]["isError"] is False
    assert "orphan" in answer["result"]["structuredContent"]["content"]


async def test_another_clients_tasks_are_invisible(stack: Stack) -> None:
    """Bob cannot see, fetch or cancel Alice's task: it is unknown to him (-32602)."""
    async with raw_client(url(stack, ALICE)) as alice:
        await alice.initialize()
        created = await alice.request(1, "tools/call", {"name": "version", "arguments": {}, "task": {}})
        task_id = created["result"]["task"]["taskId"]
        async with raw_client(url(stack, BOB)) as bob:
            await bob.initialize()
            for n, method in enumerate(("tasks/get", "tasks/result", "tasks/cancel")):
                answer = await bob.request(n, method, {"taskId": task_id})
                assert answer["error"]["code"] == -32602
            listed = (await bob.request(9, "tasks/list"))["result"]["tasks"]
            assert task_id not in {t["taskId"] for t in listed}
        assert (await alice.request(2, "tasks/result", {"taskId": task_id}))["result"]["isError"] is False


async def test_cancelling_a_working_task_makes_it_cancelled(stack: Stack) -> None:
    """tasks/cancel answers with status cancelled; tasks/result then reports the cancellation."""
    async with raw_client(url(stack, ALICE)) as client:
        await client.initialize()
        created = await client.request(
            1,
            "tools/call",
            {"name": "chat", "arguments": {"prompt": "stop me emulate:latency_ms=5000"}, "task": {}},
        )
        task_id = created["result"]["task"]["taskId"]
        cancelled = await client.request(2, "tasks/cancel", {"taskId": task_id})
        assert cancelled["result"]["status"] == "cancelled"
        answer = await client.request(3, "tasks/result", {"taskId": task_id})
        note = [m for m in client.backlog if m.get("method") == "notifications/tasks/status"]
    assert answer["result"]["isError"] is True
    assert "cancelled" in answer["result"]["content"][0]["text"]
    assert all(n["params"]["taskId"] == task_id for n in note)


async def test_a_task_is_forgotten_after_its_ttl(stack: Stack) -> None:
    """A task created with ttl 1000 ms is unknown (-32602) once that time has passed."""
    async with raw_client(url(stack, ALICE)) as client:
        await client.initialize()
        created = await client.request(
            1, "tools/call", {"name": "version", "arguments": {}, "task": {"ttl": 1000}}
        )
        task = created["result"]["task"]
        assert task["ttl"] == 1000
        with anyio.fail_after(15):
            n = 2
            while "error" not in (answer := await client.request(n, "tasks/get", {"taskId": task["taskId"]})):
                n += 1
                await anyio.sleep(0.2)
    assert answer["error"]["code"] == -32602


async def test_unknown_task_ids_and_bad_cursors_are_invalid_params(stack: Stack) -> None:
    """Made-up ids, wrong types and forged cursors get -32602, never a crash."""
    async with raw_client(url(stack, ALICE)) as client:
        await client.initialize()
        cases: list[dict[str, Any]] = [{"taskId": "nope"}, {"taskId": 5}, {}]
        for n, params in enumerate(cases):
            assert (await client.request(n, "tasks/get", params))["error"]["code"] == -32602
        assert (await client.request(9, "tasks/list", {"cursor": "forged"}))["error"]["code"] == -32602


async def test_a_task_call_with_bad_arguments_is_refused_before_any_task_exists(stack: Stack) -> None:
    """Schema problems of a task-augmented call are a -32602 error naming them; nothing is queued."""
    async with raw_client(url(stack, ALICE)) as client:
        await client.initialize()
        answer = await client.request(
            1, "tools/call", {"name": "chat", "arguments": {"prompt": 5}, "task": {"ttl": 60000}}
        )
    assert answer["error"]["code"] == -32602
    assert "prompt" in answer["error"]["message"]
