"""What a web page on a foreign site gets from a local stack, in a real headless Chromium.

Chromium resolves ``evil.example.com`` to 127.0.0.1 (``--host-resolver-rules``), as a DNS-rebinding
attacker makes it: its page is served from a local server of the test, then scripts the fronts.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import pytest

from tests.support.browser import Page, chromium_page
from tests.support.clients import WAIT, initialize_params
from tests.support.stack import Stack, gateway_urls, running_stack, unauthenticated_gateway

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

EVIL = "evil.example.com"
RESOLVE_TO_LOOPBACK = f"--host-resolver-rules=MAP {EVIL} 127.0.0.1"

# The attacker's script: open the gateway, initialize, list the tools; report what happened.
ATTACK = """<!doctype html><title>innocent page</title><body><script>
const report = (text) => { if (!document.body.dataset.outcome) document.body.dataset.outcome = text; };
const ws = new WebSocket(GATEWAY, "mcp");
ws.onopen = () => ws.send(JSON.stringify({jsonrpc: "2.0", id: 1, method: "initialize", params: INIT}));
ws.onmessage = (event) => {
  const message = JSON.parse(event.data);
  if (message.id === 1) {
    ws.send(JSON.stringify({jsonrpc: "2.0", method: "notifications/initialized"}));
    ws.send(JSON.stringify({jsonrpc: "2.0", id: 2, method: "tools/list", params: {}}));
  } else if (message.id === 2) {
    report("tools: " + message.result.tools.length);
  }
};
ws.onerror = () => report("refused");
ws.onclose = (event) => report("closed " + event.code);
</script></body>"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack with a token, its monitor without a dashboard token (as `make run` starts it)."""
    with running_stack(tmp_path_factory.mktemp("hostile"), workers=0, monitor=True) as running:
        yield running


@pytest.fixture(scope="module")
def open_gateway(stack: Stack) -> Iterator[str]:
    """A gateway run with EXAI_AUTH=none: what `make run` was before tokens became the default."""
    with unauthenticated_gateway(stack) as gateway:
        yield gateway_urls(gateway)[0]


@pytest.fixture
def evil_site() -> Iterator[tuple[int, dict[str, str]]]:
    """The attacker's web server on 127.0.0.1; yields its port and the page's settings to fill in."""
    page: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = ATTACK.replace("GATEWAY", json.dumps(page["gateway"])).replace("INIT", page["init"])
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    page["init"] = json.dumps(initialize_params("innocent"))
    try:
        yield server.server_address[1], page
    finally:
        server.shutdown()
        server.server_close()


def outcome(page: Page) -> str:
    return str(page.wait_for("document.body && document.body.dataset.outcome", timeout=WAIT))


async def test_a_foreign_page_cannot_drive_the_gateway_over_websocket(
    stack: Stack, open_gateway: str, evil_site: tuple[int, dict[str, str]], tmp_path: Path
) -> None:
    """From http://evil.example.com the handshake is refused, with or without authentication; the
    same script served from localhost is let in (the check is the Origin, not the script)."""
    port, site = evil_site
    outcomes: dict[str, str] = {}

    def browse() -> None:
        with chromium_page(tmp_path / "profile", flags=(RESOLVE_TO_LOOPBACK,)) as page:
            for name, gateway, host in (
                ("open gateway", open_gateway, EVIL),
                ("gateway with the token in the URL", stack.authed_url, EVIL),
                ("open gateway, page on localhost", open_gateway, "localhost"),
            ):
                site["gateway"] = gateway
                page.navigate(f"http://{host}:{port}/{len(outcomes)}")
                outcomes[name] = outcome(page)

    await anyio.to_thread.run_sync(browse)
    assert outcomes["open gateway"] in ("refused", "closed 1006"), outcomes
    assert outcomes["gateway with the token in the URL"] in ("refused", "closed 1006"), outcomes
    assert outcomes["open gateway, page on localhost"].startswith("tools: "), outcomes


async def test_a_rebinding_page_cannot_read_the_dashboard_state(stack: Stack, tmp_path: Path) -> None:
    """A same-origin read under the attacker's name (no Origin header is sent) gets 403, not the state."""
    dashboard = urlsplit(stack.monitor_urls["dashboard"])
    shown: dict[str, str] = {}

    def browse() -> None:
        with chromium_page(tmp_path / "profile", flags=(RESOLVE_TO_LOOPBACK,)) as page:
            for host in (EVIL, "127.0.0.1"):
                page.navigate(f"http://{host}:{dashboard.port}/state")
                shown[host] = str(page.wait_for("document.body && document.body.innerText", timeout=WAIT))

    await anyio.to_thread.run_sync(browse)
    assert shown[EVIL].startswith("Forbidden") and '"recent"' not in shown[EVIL]
    assert json.loads(shown["127.0.0.1"])["version"]
