"""One offer, two eras: the initialize result and server/discover, with cache hints."""

from __future__ import annotations

from gateway.core.discovery import Offer
from tests.gateway.core.memory import Harness
from tests.support.mcp_types_oracle import server_result


def test_initialize_answers_the_requested_supported_version_or_our_newest() -> None:
    """2025-06-18 stays 2025-06-18; an unknown one gets 2025-11-25; missing is -32602."""
    offer = Offer(list_ttl_ms=1000)
    assert offer.initialize_result("2025-06-18")["protocolVersion"] == "2025-06-18"
    assert offer.initialize_result("1999-01-01")["protocolVersion"] == "2025-11-25"
    result = offer.initialize_result("2025-11-25")
    assert result["capabilities"]["tasks"] == {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}
    assert result["serverInfo"]["name"] == "exai-mcp"
    server_result("initialize", "2025-11-25", result)
    conn = Harness().connect()
    assert conn.request(1, "initialize", {})[0]["error"]["code"] == -32602


def test_discover_advertises_the_tasks_extension_never_the_2025_tasks_slot() -> None:
    """capabilities.extensions names io.modelcontextprotocol/tasks; ttlMs and cacheScope public."""
    result = Offer(list_ttl_ms=1234).discover_result()
    assert result["capabilities"]["extensions"] == {"io.modelcontextprotocol/tasks": {}}
    assert "tasks" not in result["capabilities"]
    assert (result["ttlMs"], result["cacheScope"]) == (1234, "public")
    server_result("server/discover", "2026-07-28", result)


def test_cache_hints_are_public_for_lists_and_private_for_what_depends_on_the_caller() -> None:
    """resources/list and resources/read are private (threads are per identity); tools/call has none."""
    offer = Offer(list_ttl_ms=1000)
    assert offer.cache_hints("tools/list") == {"ttlMs": 1000, "cacheScope": "public"}
    assert offer.cache_hints("resources/read") == {"ttlMs": 0, "cacheScope": "private"}
    assert offer.cache_hints("tools/call") is None
