"""Telling the eras apart: a stream decided by its first request, the modern ladder, legacy sessions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.core.codec import Envelope, Request
from gateway.core.errors import HeaderMismatch
from gateway.core.peer import LEGACY, MODERN
from tests.gateway.core.memory import MODERN_VERSION, Harness, modern, modern_meta
from tests.support.mcp_types_oracle import error_object, server_result


@pytest.fixture
def harness() -> Harness:
    return Harness()


def test_initialize_makes_a_stream_legacy_and_a_modern_request_after_it_is_refused(harness: Harness) -> None:
    """After initialize the connection is a 2025 session; a 2026 envelope on it is -32600."""
    conn = harness.connect()
    conn.initialize()
    assert conn.channel.peer.era == LEGACY
    (answer,) = conn.request(1, "tools/list", modern())
    assert answer["error"]["code"] == -32600
    assert "new connection" in answer["error"]["message"]


def test_a_modern_first_request_makes_the_stream_modern_and_initialize_then_names_the_versions(
    harness: Harness,
) -> None:
    """The stdio probe (server/discover) opens the modern era; initialize after it is -32022."""
    conn = harness.connect()
    (discovered,) = conn.request(1, "server/discover", modern())
    assert conn.channel.peer.era == MODERN
    assert discovered["result"]["supportedVersions"] == [MODERN_VERSION]
    (refused,) = conn.request(2, "initialize", {"protocolVersion": "2025-11-25", "capabilities": {}})
    assert refused["error"]["code"] == -32022
    assert refused["error"]["data"] == {"supported": [MODERN_VERSION], "requested": "2025-11-25"}
    error_object(refused["error"])


def test_before_initialize_only_ping_is_served_and_the_era_stays_open(harness: Harness) -> None:
    """ping answers {}; tools/list is -32600; neither decides the era."""
    conn = harness.connect()
    ping, listing = conn.request(1, "ping") + conn.request(2, "tools/list")
    assert ping["result"] == {}
    assert listing["error"]["code"] == -32600
    assert conn.channel.peer.era is None


@pytest.mark.parametrize(
    ("meta", "missing"),
    [
        (None, "protocolVersion"),
        ({"io.modelcontextprotocol/clientCapabilities": {}}, "protocolVersion"),
        ({"io.modelcontextprotocol/protocolVersion": MODERN_VERSION}, "clientCapabilities"),
    ],
)
def test_an_incomplete_envelope_is_invalid_params_with_status_400_and_the_request_id(
    harness: Harness, meta: dict[str, Any] | None, missing: str
) -> None:
    """A modern request lacking its version or capabilities: -32602 naming what is missing."""
    conn, (answer,) = harness.post(101, "server/discover", {} if meta is None else {"_meta": meta})
    assert answer["id"] == 101 and answer["error"]["code"] == -32602
    assert missing in answer["error"]["message"]
    assert conn.sink.status == 400


def test_client_info_is_optional(harness: Harness) -> None:
    """clientInfo is a SHOULD: a request without it is served."""
    meta = {k: v for k, v in modern_meta().items() if not k.endswith("clientInfo")}
    _, (answer,) = harness.post(105, "server/discover", {"_meta": meta})
    assert answer["result"]["resultType"] == "complete"
    server_result("server/discover", MODERN_VERSION, answer["result"])


def test_an_unsupported_version_is_32022_listing_the_supported_ones_and_echoing_the_request(
    harness: Harness,
) -> None:
    """v999 → -32022 with data.supported ⊆ discover's versions and data.requested echoed, 400."""
    params = {"_meta": {**modern_meta(), "io.modelcontextprotocol/protocolVersion": "v999.0.0"}}
    conn, (answer,) = harness.post(301, "server/discover", params)
    assert answer["error"]["code"] == -32022
    assert answer["error"]["data"] == {"supported": [MODERN_VERSION], "requested": "v999.0.0"}
    assert conn.sink.status == 400
    error_object(answer["error"])


def test_the_transports_header_check_runs_after_the_envelope_and_before_the_version(harness: Harness) -> None:
    """A header mismatch is -32020 even when the body's version is unknown; a missing envelope is
    -32602 before any header is compared."""
    seen: list[Any] = []

    def mismatch(request: Request, env: Envelope) -> None:
        seen.append(env.version)
        raise HeaderMismatch("Header mismatch: MCP-Protocol-Version")

    conn = harness.connect(era=MODERN)
    params = {"_meta": {**modern_meta(), "io.modelcontextprotocol/protocolVersion": "v999.0.0"}}
    harness.protocol.core.receive(
        '{"jsonrpc":"2.0","id":302,"method":"server/discover","params":' + json.dumps(params) + "}",
        conn.channel,
        conn.sink,
        mismatch,
    )
    (answer,) = conn.sink.take()
    assert answer["error"]["code"] == -32020 and conn.sink.status == 400 and seen == ["v999.0.0"]
    harness.protocol.core.receive(
        '{"jsonrpc":"2.0","id":303,"method":"server/discover","params":{}}', conn.channel, conn.sink, mismatch
    )
    assert conn.sink.take()[0]["error"]["code"] == -32602 and seen == ["v999.0.0"]


@pytest.mark.parametrize(
    "meta",
    [
        {"io.modelcontextprotocol/protocolVersion": 2026},
        {"io.modelcontextprotocol/clientCapabilities": ["sampling"]},
        {"io.modelcontextprotocol/logLevel": "loud"},
    ],
)
def test_malformed_envelope_values_are_invalid_params(harness: Harness, meta: dict[str, Any]) -> None:
    """A version that is not a string, capabilities that are not an object, an unknown log level."""
    _, (answer,) = harness.post(1, "server/discover", {"_meta": {**modern_meta(), **meta}})
    assert answer["error"]["code"] == -32602


def test_server_discover_is_not_found_on_a_legacy_session(harness: Harness) -> None:
    """An initialized 2025 connection stays legacy: the 2026 probe is -32601 there."""
    conn = harness.connect()
    conn.initialize()
    (answer,) = conn.request(1, "server/discover")
    assert answer["error"]["code"] == -32601
