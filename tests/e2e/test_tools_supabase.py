"""Durable history through the supabase client against a PostgREST-compatible fake on loopback."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis

from contracts.names import thread_key
from tests.support import polling
from tests.support.clients import mcp_session
from tests.support.processes import ManagedProcess
from tests.support.stack import Stack, running_stack

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]
KEY = "test-supabase-key-not-secret-0123"
WAIT_S = 60.0


@pytest.fixture(scope="module")
def postgrest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    fake = ManagedProcess(
        "postgrest-fake",
        ["-m", "tests.support.postgrest_fake", "--port", "0", "--key", KEY],
        dict(os.environ),
        tmp_path_factory.mktemp("postgrest") / "fake.log",
    )
    match = fake.start(r"postgrest fake listening on (http://[\d.]+:\d+)", timeout=30)
    try:
        yield match.group(1)
    finally:
        fake.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, postgrest: str) -> Iterator[Stack]:
    with running_stack(
        tmp_path_factory.mktemp("supabase-stack"), SUPABASE_URL=postgrest, SUPABASE_KEY=KEY
    ) as s:
        yield s


def eventually(check: Callable[[], Any], what: str) -> Any:
    """Poll ``check`` until it returns something truthy, at most WAIT_S."""
    return polling.eventually(check, what, WAIT_S)


def tables(url: str) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = httpx.get(f"{url}/_fake/tables", timeout=5).json()
    return found


def requests_sent(url: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = httpx.get(f"{url}/_fake/requests", timeout=5).json()
    return found


async def test_a_chat_writes_its_conversation_messages_and_call_record(stack: Stack, postgrest: str) -> None:
    """Upserts reach /rest/v1/<table> with on_conflict and merge-duplicates; the call record is complete."""
    async with mcp_session(stack.authed_url) as session:
        result = await session.call_tool("chat", {"prompt": "durable hello", "model": "glm-4.6"})
    body = result.structuredContent or {}
    thread = body["continuation_offer"]["continuation_id"]
    call_id = body["metadata"]["correlation_id"]

    def written() -> Any:
        rows = tables(postgrest)
        calls = [c for c in rows.get("tool_calls", []) if c["correlation_id"] == call_id]
        messages = [m for m in rows.get("messages", []) if m["conversation_id"] == thread]
        return (calls, messages) if calls and len(messages) == 2 else None

    calls, messages = eventually(written, "the rows of the chat")
    record = calls[0]
    assert (record["tool"], record["status"], record["provider"], record["model"]) == (
        "chat", "success", "glm", "glm-4.6",
    )  # fmt: skip
    assert record["tokens_in"] > 0 and record["tokens_out"] > 0 and record["latency_ms"] >= 0
    assert record["retries"] == 0 and record["created_at"] and record["finished_at"]
    assert [m["role"] for m in sorted(messages, key=lambda m: m["idx"])] == ["user", "assistant"]
    posts = [r for r in requests_sent(postgrest) if r["method"] == "POST"]
    assert {r["path"] for r in posts} >= {
        "/rest/v1/conversations",
        "/rest/v1/messages",
        "/rest/v1/tool_calls",
    }
    for post in posts:
        assert "resolution=merge-duplicates" in (post["prefer"] or "")
        assert post["query"]["on_conflict"] in ("id", "call_id")


async def test_an_outage_delays_the_writes_and_loses_none(stack: Stack, postgrest: str) -> None:
    """While Supabase answers 503 the writes are retried; after recovery every row is there."""
    httpx.post(f"{postgrest}/_fake/outage", json={"down": True}, timeout=5).raise_for_status()
    before = len(requests_sent(postgrest))
    try:
        async with mcp_session(stack.authed_url) as session:
            results = [await session.call_tool("chat", {"prompt": f"during outage {i}"}) for i in range(3)]
        assert all(r.isError is False for r in results)  # the calls themselves do not wait for Supabase
        eventually(lambda: len(requests_sent(postgrest)) - before >= 6, "failed attempts during the outage")
        ids = {r.structuredContent["metadata"]["correlation_id"] for r in results}  # type: ignore[index]
        assert not ids & {c["correlation_id"] for c in tables(postgrest).get("tool_calls", [])}
    finally:
        httpx.post(f"{postgrest}/_fake/outage", json={"down": False}, timeout=5).raise_for_status()
    eventually(
        lambda: ids <= {c["correlation_id"] for c in tables(postgrest).get("tool_calls", [])},
        "every call record after recovery",
    )
    threads = {r.structuredContent["continuation_offer"]["continuation_id"] for r in results}  # type: ignore[index]
    eventually(
        lambda: all(
            len([m for m in tables(postgrest).get("messages", []) if m["conversation_id"] == t]) == 2
            for t in threads
        ),
        "every message after recovery",
    )


async def test_a_thread_expired_from_redis_is_restored_from_supabase(stack: Stack, postgrest: str) -> None:
    """With the Redis key gone, the continuation reads the thread back (filters sent as eq/order)."""
    async with mcp_session(stack.authed_url) as session:
        first = await session.call_tool("chat", {"prompt": "remember the word papaya"})
        thread = first.structuredContent["continuation_offer"]["continuation_id"]  # type: ignore[index]
        eventually(
            lambda: (
                len([m for m in tables(postgrest).get("messages", []) if m["conversation_id"] == thread]) == 2
            ),
            "the first turn in Supabase",
        )
        redis.Redis.from_url(stack.env["REDIS_URL"]).delete(thread_key(thread))
        second = await session.call_tool("chat", {"prompt": "which word", "continuation_id": thread})
    assert second.isError is False, second.content
    assert "papaya" in str(stack.emulator_stats()["last_body"]["kimi"]["messages"])
    reads = [r for r in requests_sent(postgrest) if r["method"] == "GET"]
    assert any(
        r["path"] == "/rest/v1/conversations" and r["query"].get("id") == f"eq.{thread}" for r in reads
    )
    assert any(
        r["path"] == "/rest/v1/messages"
        and r["query"].get("conversation_id") == f"eq.{thread}"
        and r["query"].get("order", "").startswith("idx")
        for r in reads
    )
