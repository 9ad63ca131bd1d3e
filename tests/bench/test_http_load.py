"""The HTTP half of the benchmark against this project's Streamable HTTP front in its own process."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from bench import http_load

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.e2e
def test_the_current_http_front_is_driven_and_charged_for_its_own_cpu() -> None:
    """A legacy session over real sockets answers every call; the server process's CPU is counted."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "bench.protocol_base", "--serve-current-http"]
    with http_load.server_process(command, env) as (pid, port):
        run = http_load.measure(pid, port, http_load.LEGACY, 60, 3)
    assert run["calls"] == 60
    assert run["cpu_us_per_call"] > 0


def test_an_sse_body_yields_its_response_not_its_progress() -> None:
    """answer_of skips notifications in an SSE stream and returns the JSON-RPC response."""
    body = (
        'event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{}}\n\n'
        'event: message\ndata: {"jsonrpc":"2.0","id":3,"result":{"isError":false}}\n\n'
    )
    assert http_load.answer_of(body) == {"jsonrpc": "2.0", "id": 3, "result": {"isError": False}}
    assert http_load.answer_of('{"jsonrpc":"2.0","id":1,"result":{}}')["id"] == 1
