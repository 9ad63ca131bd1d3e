"""A tool pack through the whole stack as it runs today: gateway and worker load EXAI_TOOL_PACKS, the
pack's tools run on the worker as Celery tasks, through the real gateway, Redis and emulator."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest
import redis
from mcp.types import TextContent

from contracts.job import Outcome
from contracts.names import LIST_CHANGED_CHANNEL, result_key
from tests.conformance.fixture_pack import PNG_BASE64
from tests.support.channels import listen, messages
from tests.support.clients import mcp_session, raw_client
from tests.support.stack import Stack, running_stack

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]
FIXTURE_PACK = "tests.conformance.fixture_pack"
META_CALL = "io.exai/call_id"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The stack with the conformance fixture pack loaded by its gateway and its worker."""
    with running_stack(tmp_path_factory.mktemp("packs"), EXAI_TOOL_PACKS=FIXTURE_PACK) as running:
        yield running


def text_of(result: object) -> str:
    content = getattr(result, "content", [])
    return "".join(block.text for block in content if isinstance(block, TextContent))


async def test_the_packs_tools_are_listed_beside_the_builtin_ones(stack: Stack) -> None:
    """tools/list shows the fixture tools and the service's own, with the pack's task hints."""
    async with mcp_session(stack.authed_url) as session:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
    assert {"chat", "debug", "greet", "slow_compute", "test_simple_text", "test_tool_with_task"} <= set(tools)
    assert tools["greet"].execution is not None and tools["greet"].execution.taskSupport == "forbidden"


async def test_a_pack_tool_runs_on_the_worker_and_answers_through_the_gateway(stack: Stack) -> None:
    """greet and test_simple_text answer their texts; test_error_handling is a tool error."""
    async with mcp_session(stack.authed_url) as session:
        greeted = await session.call_tool("greet", {"name": "World"})
        simple = await session.call_tool("test_simple_text", {})
        failed = await session.call_tool("test_error_handling", {})
    assert (greeted.isError, text_of(greeted)) == (False, "Hello, World!")
    assert text_of(simple) == "This is a simple text response for testing."
    assert (
        failed.isError is True and text_of(failed) == "This tool intentionally returns an error for testing"
    )


async def test_a_pack_tools_progress_reaches_the_client_through_the_normal_path(stack: Stack) -> None:
    """test_tool_with_progress: three reports of 100, increasing (the gateway keeps them growing), to 100."""
    seen: list[tuple[float, float | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total))

    async with mcp_session(stack.authed_url) as session:
        result = await session.call_tool("test_tool_with_progress", {}, progress_callback=on_progress)
    assert result.isError is False
    reports = [p for p, t in seen if t == 100]
    assert len(reports) == 3 and reports == sorted(set(reports)) and reports[-1] == 100


async def test_content_blocks_of_a_pack_tool_are_stored_with_its_outcome(stack: Stack) -> None:
    """test_multiple_content_types: the worker's outcome holds the text, image and resource blocks.

    Today's gateway still answers with one text block; the protocol core maps Outcome.content."""
    r = redis.Redis.from_url(stack.env["REDIS_URL"])
    async with mcp_session(stack.authed_url) as session:
        result = await session.call_tool("test_multiple_content_types", {})
    assert result.isError is False and text_of(result) == "Multiple content types test:"
    call_id = (result.meta or {})[META_CALL]
    outcome = Outcome.model_validate_json(r.get(result_key(call_id)) or b"{}")
    assert [block["type"] for block in outcome.content or []] == ["text", "image", "resource"]
    assert (outcome.content or [])[1] == {"type": "image", "data": PNG_BASE64, "mimeType": "image/png"}


async def test_the_list_change_hook_publishes_on_the_channel_gateways_watch(stack: Stack) -> None:
    """test_trigger_tool_change, run on the worker, publishes "tools" on LIST_CHANGED_CHANNEL."""
    r = redis.Redis.from_url(stack.env["REDIS_URL"])
    pubsub = listen(r, LIST_CHANGED_CHANNEL)
    async with mcp_session(stack.authed_url) as session:
        result = await session.call_tool("test_trigger_tool_change", {})
    assert text_of(result) == "Mutation triggered"
    assert messages(pubsub, 1) == ["tools"]


async def test_cancelling_slow_compute_stops_it_on_the_worker(stack: Stack) -> None:
    """A 60 s slow_compute cancelled with notifications/cancelled is recorded CANCELLED within seconds."""
    r = redis.Redis.from_url(stack.env["REDIS_URL"])
    params = {
        "name": "slow_compute",
        "arguments": {"seconds": 60, "label": "e2e"},
        "_meta": {"progressToken": "sc"},
    }
    async with raw_client(stack.authed_url) as client:
        await client.initialize()
        await client.send({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": params})
        with anyio.fail_after(30):
            while True:  # its first progress report: it is running on the worker
                message = await client.receive()
                if "e2e: 1 of 60 s" in (message.get("params", {}).get("message") or ""):
                    break
        await client.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 5}})
        with anyio.fail_after(10):
            while True:
                cancelled = [
                    outcome
                    for key in r.scan_iter("exai:result:*")
                    if (outcome := Outcome.model_validate_json(r.get(key) or b"{}")).error_code == "CANCELLED"
                ]
                if cancelled:
                    break
                await anyio.sleep(0.05)
        assert all(m.get("id") != 5 for m in client.backlog)
