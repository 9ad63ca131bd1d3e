"""The simulated distance: handshakes and requests cost the round trips they cost over a WAN."""

from __future__ import annotations

import ssl
import time
from pathlib import Path

import httpx
import pytest

from tests.support.emulator import running_emulator

RTT_S = 0.2  # large, so that the load of a shared machine stays small beside it
AUTH = {"Authorization": "Bearer test-key"}
CHAT = {"model": "kimi-k2.6", "messages": [{"role": "user", "content": "far away"}]}


def _first_byte_s(http: httpx.Client, url: str) -> float:
    """Seconds from sending a chat call to its response headers (the first bytes of the answer)."""
    started = time.perf_counter()
    with http.stream("POST", f"{url}/v1/chat/completions", json=CHAT, headers=AUTH) as response:
        elapsed = time.perf_counter() - started
        response.read()
    assert response.status_code == 200
    return elapsed


@pytest.mark.parametrize(("tls", "new_rtts"), [(True, 3), (False, 2)])
def test_a_new_connection_costs_its_handshakes_and_a_reused_one_a_single_round_trip(
    tmp_path: Path, tls: bool, new_rtts: int
) -> None:
    """Over TLS 1.3 a new connection takes ~3 RTT to the first byte (TCP, TLS, request), over plain
    HTTP ~2, and a kept-alive one ~1 RTT."""
    pytest.importorskip("cryptography")
    ca = tmp_path / "ca.pem"
    options = ["--rtt-ms", str(RTT_S * 1000), *(["--tls", "--ca-file", str(ca)] if tls else [])]
    with running_emulator(0, 0, *options) as url:
        verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(ca)) if tls else True
        with httpx.Client(verify=verify, timeout=30) as http:
            new = _first_byte_s(http, url)
            reused = [_first_byte_s(http, url) for _ in range(3)]
            connections = http.get(f"{url}/_emulator/stats").json()["connections"]
    assert (new_rtts - 0.2) * RTT_S <= new < (new_rtts + 1.5) * RTT_S
    assert all(0.9 * RTT_S <= r < 2 * RTT_S for r in reused), reused
    assert connections == 1
