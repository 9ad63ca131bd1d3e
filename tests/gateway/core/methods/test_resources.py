"""Resources: the configured models, the caller's own threads (and nobody else's), pack resources."""

from __future__ import annotations

import json

import pytest

from contracts.settings import load_settings
from gateway.core.errors import InvalidParams, ResourceNotFound
from gateway.core.methods.resources import THREAD_TEMPLATE, Resources
from tests.gateway.core.methods.fixtures import pack_catalog
from tests.support.memory_threads import MemoryThreads

pytestmark = pytest.mark.anyio
SETTINGS = load_settings(kimi_api_key="test-kimi-key-0123456789", exai_thread_resources_max=2)


def resources_with_threads() -> tuple[Resources, MemoryThreads]:
    threads = MemoryThreads()
    threads.add("t-old", "alice", at=1_900_000_000.0)
    threads.add("t-new", "alice", tool="debug", at=1_900_000_100.0)
    threads.add("t-mid", "alice", at=1_900_000_050.0)
    threads.add("t-bob", "bob")
    return Resources(pack_catalog(), SETTINGS, threads), threads


async def test_the_list_shows_models_pack_resources_and_the_callers_latest_threads() -> None:
    """Alice sees the models, the pack note and her two most recent threads, never bob's."""
    resources, _ = resources_with_threads()
    listed = [r["uri"] for r in (await resources.list("alice", {}))["resources"]]
    assert listed == ["exai://models", "test://note", "exai://threads/t-new", "exai://threads/t-mid"]
    bobs = [r["uri"] for r in (await resources.list("bob", {}))["resources"]]
    assert bobs == ["exai://models", "test://note", "exai://threads/t-bob"]


async def test_the_models_resource_lists_configured_models_without_any_secret() -> None:
    """exai://models: every model with its context window and whether its provider has a key."""
    resources, _ = resources_with_threads()
    (content,) = (await resources.read("alice", {"uri": "exai://models"}))["contents"]
    assert content["mimeType"] == "application/json"
    body = json.loads(content["text"])
    kimi = next(m for m in body["models"] if m["name"] == "kimi-k2.6")
    glm = next(m for m in body["models"] if m["provider"] == "glm")
    assert kimi == {"name": "kimi-k2.6", "provider": "kimi", "context_window": 262_144, "configured": True}
    assert glm["configured"] is False
    assert "test-kimi-key" not in content["text"]


async def test_the_owner_reads_a_thread_and_any_other_identity_gets_resource_not_found() -> None:
    """Bob asking for alice's thread gets exactly what an unknown id gets: ResourceNotFound with the uri."""
    resources, _ = resources_with_threads()
    (content,) = (await resources.read("alice", {"uri": "exai://threads/t-new"}))["contents"]
    view = json.loads(content["text"])
    assert view["continuation_id"] == "t-new" and view["tool"] == "debug" and len(view["turns"]) == 2
    for who, uri in (
        ("bob", "exai://threads/t-new"),
        ("alice", "exai://threads/unknown"),
        ("alice", "exai://threads/"),
    ):
        with pytest.raises(ResourceNotFound) as missing:
            await resources.read(who, {"uri": uri})
        assert missing.value.data == {"uri": uri}
        assert (
            missing.value.code_for(modern=True) == -32602 and missing.value.code_for(modern=False) == -32002
        )


async def test_pack_resources_and_templates_are_read_and_unknown_uris_are_not_found() -> None:
    """A static pack resource, a templated one, a template that finds nothing, and an unknown scheme."""
    resources, _ = resources_with_threads()
    assert (await resources.read("alice", {"uri": "test://note"}))["contents"][0]["text"] == "a note"
    assert (await resources.read("alice", {"uri": "test://items/7"}))["contents"][0]["text"] == "item 7"
    for uri in ("test://items/missing", "test://nonexistent-resource-for-conformance-testing"):
        with pytest.raises(ResourceNotFound):
            await resources.read("alice", {"uri": uri})
    with pytest.raises(InvalidParams, match="uri must be a string"):
        await resources.read("alice", {})


async def test_templates_list_the_thread_template_before_the_packs() -> None:
    """exai://threads/{continuation_id} first, then the pack's templates; cursors are refused (one page)."""
    resources, _ = resources_with_threads()
    templates = (await resources.templates("alice", {}))["resourceTemplates"]
    assert [t["uriTemplate"] for t in templates] == [THREAD_TEMPLATE, "test://items/{id}"]
    with pytest.raises(InvalidParams, match="single page"):
        await resources.templates("alice", {"cursor": "x"})
