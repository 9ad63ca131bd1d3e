"""Who the dashboard answers: its page, /state and /ws against a real `exai monitor` process."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Origin

from tests.support.clients import WAIT
from tests.support.processes import ManagedProcess
from tests.support.stack import Stack, running_stack

pytestmark = pytest.mark.e2e

APP = "https://ops.example.com"
DASHBOARD_TOKEN = "dashboard-token-0123456789"
EVIL = "http://evil.example.com"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack (no worker) whose monitor runs without a dashboard token, one origin allowed."""
    with running_stack(
        tmp_path_factory.mktemp("dashboard"), workers=0, monitor=True, EXAI_ALLOWED_ORIGINS=APP
    ) as running:
        yield running


@pytest.fixture(scope="module")
def guarded(stack: Stack) -> Iterator[str]:
    """A second monitor on the same Redis, with EXAI_DASHBOARD_TOKEN; its dashboard URL."""
    monitor = ManagedProcess(
        "guarded-monitor",
        ["-m", "cli.main", "monitor"],
        {
            **stack.env,
            "HEALTH_PORT": "0",
            "METRICS_PORT": "0",
            "DASHBOARD_PORT": "0",
            "EXAI_DASHBOARD_TOKEN": DASHBOARD_TOKEN,
        },
        stack.directory / "guarded-monitor.log",
    )
    try:
        yield monitor.start(r"dashboard (\S+)", timeout=30).group(1)
    finally:
        monitor.stop()


def dashboard(stack: Stack) -> str:
    return stack.monitor_urls["dashboard"]


def port_of(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None
    return port


def ws_state(url: str, host: str | None = None, **kwargs: Any) -> dict[str, Any]:
    """One state pushed by /ws; ``host`` sends that name as Host, over a socket to 127.0.0.1."""
    target = urlsplit(url)
    if host is not None:
        kwargs["sock"] = socket.create_connection(("127.0.0.1", port_of(url)), timeout=WAIT)
        url = target._replace(netloc=f"{host}:{target.port}").geturl()
    with connect(url.replace("http://", "ws://"), open_timeout=WAIT, **kwargs) as ws:
        state: dict[str, Any] = json.loads(ws.recv(timeout=WAIT))
    return state


def ws_refusal(url: str, host: str | None = None, **kwargs: Any) -> tuple[int, bytes]:
    with pytest.raises(InvalidStatus) as refused:
        ws_state(url, host, **kwargs)
    return refused.value.response.status_code, refused.value.response.body or b""


def test_a_foreign_page_gets_403_for_the_page_the_state_and_the_websocket(stack: Stack) -> None:
    """The state (recent calls) is pushed to nobody on a foreign or `null` Origin."""
    base = dashboard(stack)
    for origin in (EVIL, "null", "https://ops.example.com.evil.example"):
        for path in ("", "state"):
            answer = httpx.get(base + path, headers={"Origin": origin}, timeout=WAIT)
            assert answer.status_code == 403, (origin, path)
            assert "Origin is not allowed" in answer.text and "evil" not in answer.text
        status, _ = ws_refusal(base + "ws", origin=Origin(origin))
        assert status == 403, origin


def test_its_own_page_an_allowed_origin_and_clients_without_origin_are_served(stack: Stack) -> None:
    """The page's own WebSocket (a loopback origin), a listed origin and curl-like clients pass."""
    base = dashboard(stack)
    own = f"http://127.0.0.1:{port_of(base)}"
    assert "version" in ws_state(base + "ws", origin=Origin(own))
    assert "version" in ws_state(base + "ws", origin=Origin(APP))
    assert "version" in ws_state(base + "ws")
    for headers in ({}, {"Origin": own}, {"Origin": APP}):
        assert httpx.get(base + "state", headers=headers, timeout=WAIT).json()["version"]
        assert httpx.get(base, headers=headers, timeout=WAIT).status_code == 200


def test_without_a_token_a_dns_rebinding_host_is_refused(stack: Stack) -> None:
    """A rebinding page reads same-origin (no Origin header) under its own name: Host gets 403."""
    base = dashboard(stack)
    port = port_of(base)
    for path in ("", "state"):
        answer = httpx.get(base + path, headers={"Host": f"evil.example.com:{port}"}, timeout=WAIT)
        assert answer.status_code == 403 and "Host header" in answer.text
    assert ws_refusal(base + "ws", host="evil.example.com")[0] == 403
    assert "version" in ws_state(base + "ws", host="localhost")
    ok = httpx.get(base + "state", headers={"Host": "ops.example.com"}, timeout=WAIT)
    assert ok.status_code == 200  # the host of an allowed origin


def test_with_a_token_origin_is_checked_and_host_is_not(guarded: str) -> None:
    """A token-protected dashboard behind a proxy answers its public name; foreign pages still get 403."""
    auth = {"Authorization": f"Bearer {DASHBOARD_TOKEN}"}
    public = httpx.get(guarded + "state", headers={**auth, "Host": "dash.example.net"}, timeout=WAIT)
    assert public.status_code == 200
    foreign = httpx.get(guarded + "state", headers={**auth, "Origin": EVIL}, timeout=WAIT)
    assert foreign.status_code == 403
    assert ws_refusal(f"{guarded}ws?token={DASHBOARD_TOKEN}", origin=Origin(EVIL))[0] == 403
    assert httpx.get(guarded + "state", timeout=WAIT).status_code == 401


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_the_bearer_scheme_is_accepted_in_any_case(guarded: str, scheme: str) -> None:
    """RFC 7235: the scheme is case-insensitive, as the gateway reads it."""
    header = {"Authorization": f"{scheme} {DASHBOARD_TOKEN}"}
    assert httpx.get(guarded + "state", headers=header, timeout=WAIT).status_code == 200
    assert "version" in ws_state(guarded + "ws", additional_headers=header)


def test_a_wrong_token_or_another_scheme_is_refused(guarded: str) -> None:
    """Only the dashboard token, as a bearer token or ?token=, opens it."""
    for header in (f"Basic {DASHBOARD_TOKEN}", "Bearer wrong-token-0123456789", "bearer", DASHBOARD_TOKEN):
        answer = httpx.get(guarded + "state", headers={"Authorization": header}, timeout=WAIT)
        assert answer.status_code == 401, header
    assert httpx.get(f"{guarded}state?token={DASHBOARD_TOKEN}", timeout=WAIT).status_code == 200


@pytest.mark.parametrize("port", ["health", "metrics"])
def test_health_and_metrics_refuse_a_foreign_page_and_a_rebinding_host(stack: Stack, port: str) -> None:
    """Health and metrics answer scrapers, loopback pages and listed origins; a foreign Origin or,
    on a loopback monitor, a Host naming another machine gets 403."""
    url = stack.monitor_urls[port]
    live = url if port == "metrics" else url.replace("/health", "/livez")
    assert httpx.get(live, timeout=WAIT).status_code == 200
    assert httpx.get(live, headers={"Origin": APP}, timeout=WAIT).status_code == 200
    foreign = httpx.get(live, headers={"Origin": EVIL}, timeout=WAIT)
    assert foreign.status_code == 403
    assert "evil" not in foreign.text
    address = urlsplit(live)
    rebinding = httpx.get(live, headers={"Host": f"evil.example.com:{address.port}"}, timeout=WAIT)
    assert rebinding.status_code == 403
