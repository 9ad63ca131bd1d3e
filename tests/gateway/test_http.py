"""The Streamable HTTP front's handshake checks: Origin always, Host when nobody authenticates."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.clients import WAIT, initialize_params
from tests.support.stack import TOKEN, Stack, gateway_urls, running_stack, unauthenticated_gateway

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

APP = "https://app.example.com"
ACCEPT = {"Accept": "application/json, text/event-stream"}
AUTH = {"Authorization": f"Bearer {TOKEN}"}
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": initialize_params("t")}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A gateway with a token and one allowed origin (no worker: initialize is enough here)."""
    directory = tmp_path_factory.mktemp("http-origins")
    with running_stack(directory, workers=0, EXAI_ALLOWED_ORIGINS=APP) as running:
        yield running


@pytest.fixture(scope="module")
def open_http(stack: Stack) -> Iterator[str]:
    """The Streamable HTTP endpoint of a gateway run with EXAI_AUTH=none."""
    with unauthenticated_gateway(stack) as gateway:
        yield gateway_urls(gateway)[1]


async def post_initialize(url: str, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=WAIT) as client:
        return await client.post(url, json=INIT, headers={**ACCEPT, **headers})


def version_of(answer: httpx.Response) -> Any:
    assert answer.status_code == 200, answer.text
    return answer.json()["result"]["protocolVersion"]


async def test_a_post_from_a_foreign_origin_gets_403_even_with_the_token(stack: Stack) -> None:
    """The shared policy answers HTTP like WebSocket: `null` and look-alike origins are foreign too."""
    for origin in ("http://evil.example.com", "null", "https://app.example.com.evil.example", "http://[::1"):
        answer = await post_initialize(stack.http_url, Origin=origin, **AUTH)
        assert answer.status_code == 403, origin
        assert "Origin is not allowed" in answer.json()["error"]["message"]
        assert "evil" not in answer.text


async def test_listed_loopback_and_absent_origins_initialize(stack: Stack) -> None:
    """A listed origin (any spelling of it), a loopback page and a client sending no Origin all pass."""
    for origin in (None, APP, "HTTPS://app.example.com:443", "http://localhost:6274", "http://[::1]:3000"):
        headers = AUTH if origin is None else {**AUTH, "Origin": origin}
        assert version_of(await post_initialize(stack.http_url, **headers)) == "2025-11-25", origin


async def test_without_authentication_origin_and_host_are_both_checked(open_http: str) -> None:
    """EXAI_AUTH=none: anonymous POSTs pass from this machine; a foreign page and a rebinding Host do not."""
    assert version_of(await post_initialize(open_http)) == "2025-11-25"
    assert (await post_initialize(open_http, Origin="http://evil.example.com")).status_code == 403
    port = open_http.split(":")[2].split("/")[0]
    rebound = await post_initialize(open_http, Host=f"evil.example.com:{port}")
    assert rebound.status_code == 403 and "Host header" in rebound.json()["error"]["message"]
    assert version_of(await post_initialize(open_http, Host=f"localhost:{port}")) == "2025-11-25"
    assert version_of(await post_initialize(open_http, Host="app.example.com")) == "2025-11-25"


async def test_with_a_token_any_host_reaches_the_front(stack: Stack) -> None:
    """Behind a proxy the Host is a public name; with a token configured it is not checked."""
    answer = await post_initialize(stack.http_url, Host="mcp.example.net", **AUTH)
    assert version_of(answer) == "2025-11-25"
