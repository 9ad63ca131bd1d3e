"""The WebSocket server: its options as the settings choose them, and who its handshake lets in."""

from __future__ import annotations

import socket
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin, Subprotocol

from contracts.settings import ConfigError, load_settings
from gateway.server import compression
from tests.support.clients import WAIT, raw_client
from tests.support.stack import Stack, gateway_urls, running_stack, unauthenticated_gateway


def test_compression_settings_pick_the_window_or_turn_it_off() -> None:
    """0 turns permessage-deflate off; otherwise both window sizes and the memory level are set."""
    assert compression(load_settings(exai_ws_deflate_window_bits=0)) == {"compression": None}
    chosen = compression(load_settings(exai_ws_deflate_window_bits=11, exai_ws_deflate_mem_level=2))
    (factory,) = chosen["extensions"]
    assert (factory.server_max_window_bits, factory.client_max_window_bits) == (11, 11)
    assert factory.compress_settings == {"memLevel": 2}
    with pytest.raises(ConfigError, match="EXAI_WS_DEFLATE_WINDOW_BITS"):
        load_settings(exai_ws_deflate_window_bits=8)


# --- Origin and Host at the handshake, against real gateway processes ----------------------------
APP = "https://app.example.com"
FOREIGN = ("http://evil.example.com", "null", "http://localhost.evil.example", "https://app.example.com:8443")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A gateway with a token and one allowed origin (no worker: handshakes and tools/list only)."""
    with running_stack(tmp_path_factory.mktemp("origins"), workers=0, EXAI_ALLOWED_ORIGINS=APP) as running:
        yield running


@pytest.fixture(scope="module")
def open_gateway(stack: Stack) -> Iterator[str]:
    """A second gateway on the same Redis, run without authentication (EXAI_AUTH=none); its URL."""
    with unauthenticated_gateway(stack) as gateway:
        yield gateway_urls(gateway)[0]


async def refused_status(url: str, **kwargs: Any) -> tuple[int, bytes]:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, subprotocols=[Subprotocol("mcp")], open_timeout=WAIT, **kwargs):
            pass
    return refused.value.response.status_code, refused.value.response.body or b""


async def tools_listed(url: str, **kwargs: Any) -> list[str]:
    async with raw_client(url, open_timeout=WAIT, **kwargs) as client:
        await client.initialize()
        answer = await client.request(1, "tools/list")
    return [tool["name"] for tool in answer["result"]["tools"]]


@pytest.mark.e2e
@pytest.mark.anyio
async def test_a_page_on_a_foreign_origin_cannot_open_the_websocket_even_with_the_token(stack: Stack) -> None:
    """A browser-style handshake from a foreign, `null` or look-alike Origin gets 403 and a fixed reason."""
    for origin in FOREIGN:
        status, body = await refused_status(stack.authed_url, origin=Origin(origin))
        assert status == 403, origin
        assert b"Origin is not allowed" in body and b"evil" not in body
    # The old daemon's clients (no `mcp` subprotocol, token in the hello) get the same answer.
    with pytest.raises(InvalidStatus) as legacy:
        async with connect(stack.gateway_url, origin=Origin(FOREIGN[0]), open_timeout=WAIT):
            pass
    assert legacy.value.response.status_code == 403
    assert stack.gateway is not None and "refused a connection" in stack.gateway.text()


@pytest.mark.e2e
@pytest.mark.anyio
async def test_allowed_loopback_and_absent_origins_initialize_and_list_tools(stack: Stack) -> None:
    """No Origin (any non-browser client), a listed origin and loopback pages connect as before."""
    for origin in (None, APP, "https://APP.example.com:443/", "http://localhost:5173", "http://127.0.0.1:8080"):
        extra = {} if origin is None else {"origin": Origin(origin)}
        assert "chat" in await tools_listed(stack.authed_url, **extra), origin


@pytest.mark.e2e
@pytest.mark.anyio
async def test_without_authentication_a_foreign_origin_is_still_refused(open_gateway: str) -> None:
    """EXAI_AUTH=none accepts anonymous clients, never a foreign page."""
    assert "chat" in await tools_listed(open_gateway)
    status, _ = await refused_status(open_gateway, origin=Origin(FOREIGN[0]))
    assert status == 403


@pytest.mark.e2e
@pytest.mark.anyio
async def test_without_authentication_a_dns_rebinding_host_is_refused(open_gateway: str) -> None:
    """A rebinding page reaches 127.0.0.1 under its own name: Host is checked when nobody authenticates."""
    port = int(open_gateway.rsplit(":", 1)[1].strip("/"))

    def to_gateway() -> socket.socket:
        return socket.create_connection(("127.0.0.1", port), timeout=WAIT)

    status, body = await refused_status(f"ws://evil.example.com:{port}/", sock=to_gateway())
    assert status == 403 and b"Host header" in body
    for name in ("localhost", "app.example.com"):  # loopback, and the host of an allowed origin
        assert "chat" in await tools_listed(f"ws://{name}:{port}/", sock=to_gateway()), name


@pytest.mark.e2e
@pytest.mark.anyio
async def test_with_a_token_the_host_is_not_checked(stack: Stack) -> None:
    """Behind a proxy the Host is the public name; the token is what keeps pages out there."""
    port = int(stack.gateway_url.rsplit(":", 1)[1].strip("/"))
    sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    url = f"ws://mcp.example.net:{port}/?token={stack.env['EXAI_WS_TOKEN']}"
    assert "chat" in await tools_listed(url, sock=sock)


# --- who may connect when no token is configured --------------------------------------------------
@pytest.mark.e2e
@pytest.mark.anyio
async def test_a_gateway_without_a_configured_token_requires_the_token_file_one(
    stack: Stack, tmp_path: Path
) -> None:
    """EXAI_AUTH=token and no EXAI_WS_TOKEN: the gateway makes the file (0600) and accepts only its token."""
    path = tmp_path / "config" / "ws-token"
    env = {k: v for k, v in stack.env.items() if k != "EXAI_WS_TOKEN"}
    gateway = stack.spawn_gateway("file-gateway", {**env, "EXAI_WS_TOKEN_FILE": str(path)})
    try:
        url = gateway_urls(gateway)[0]
        token = path.read_text().strip()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert (await refused_status(url))[0] == 401
        assert (await refused_status(f"{url}?token=not-the-token-0123456789"))[0] == 401
        assert "chat" in await tools_listed(url, additional_headers={"Authorization": f"Bearer {token}"})
        assert "auth required" in gateway.text() and str(path) in gateway.text()
        assert token not in gateway.text()
    finally:
        gateway.stop()


@pytest.mark.e2e
def test_running_without_authentication_is_said_at_start_up(open_gateway: str, stack: Stack) -> None:
    """EXAI_AUTH=none is an explicit choice, and the gateway warns that it is running open."""
    log = (stack.directory / "open-gateway.log").read_text()
    assert "auth off" in log and "EXAI_AUTH=none" in log and "WARNING" in log
