"""Named client tokens, per-client and connection limits, the task CLI, and no secret in any output."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import AsyncExitStack

import anyio
import httpx
import pytest
from websockets.exceptions import InvalidStatus

from tests.support.clients import raw_client
from tests.support.stack import TOKEN, Stack, running_stack

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

ALICE = "alice-secret-token-0123456789"
BOB = "bob-secret-token-01234567890a"
PER_IP = 6
IN_FLIGHT = 2


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Three clients (alice, bob, and `default` from EXAI_WS_TOKEN), tight limits, and the monitor."""
    with running_stack(
        tmp_path_factory.mktemp("security"),
        monitor=True,
        EXAI_WS_TOKENS=f"alice:{ALICE},bob:{BOB}",
        EXAI_MAX_CONNECTIONS_PER_IP=str(PER_IP),
        EXAI_CLIENT_MAX_IN_FLIGHT=str(IN_FLIGHT),
    ) as running:
        yield running


def url(stack: Stack, token: str) -> str:
    return f"{stack.gateway_url}?token={token}"


async def test_each_named_token_is_accepted_and_logged_by_its_name_only(stack: Stack) -> None:
    """alice, bob and the old single token connect; the log names the client, never the token."""
    for token in (ALICE, BOB, TOKEN):
        async with raw_client(url(stack, token)) as client:
            assert "result" in await client.initialize()
    with pytest.raises(InvalidStatus) as refused:
        async with raw_client(url(stack, ALICE[:-1] + "X")):
            pass
    assert refused.value.response.status_code == 401
    assert stack.gateway is not None
    stack.gateway.wait_for(r"client alice connected", timeout=10)
    stack.gateway.wait_for(r"client bob connected", timeout=10)


async def test_a_client_over_its_in_flight_limit_is_refused_at_once_and_others_are_not(stack: Stack) -> None:
    """alice's third concurrent call gets an isError with a retry-after; bob's call still runs."""
    slow = {"name": "chat", "arguments": {"prompt": "hold emulate:latency_ms=2000"}}
    async with raw_client(url(stack, ALICE)) as alice, raw_client(url(stack, BOB)) as bob:
        await alice.initialize()
        await bob.initialize()
        for n in range(IN_FLIGHT):
            await alice.send({"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": slow})
        with anyio.fail_after(5):  # answered at once, while the two slow calls still run
            refused = await alice.request("third", "tools/call", slow)
        task_refused = await alice.request("as-task", "tools/call", {**slow, "task": {}})
        other = await bob.request("b", "tools/call", {"name": "version", "arguments": {}})
        for n in range(IN_FLIGHT):
            assert (await alice.response(n))["result"]["isError"] is False
        after = await alice.request("after", "tools/call", {"name": "version", "arguments": {}})
    assert refused["result"]["isError"] is True
    assert "EXAI_CLIENT_MAX_IN_FLIGHT" in refused["result"]["content"][0]["text"]
    assert refused["result"]["_meta"]["io.exai/retry_after_s"] > 0
    assert task_refused["error"]["code"] == -32000 and task_refused["error"]["data"]["retryAfter"] > 0
    assert other["result"]["isError"] is False
    assert after["result"]["isError"] is False  # the slots came back


async def test_connections_beyond_the_per_address_limit_are_refused_with_503(stack: Stack) -> None:
    """The connection past EXAI_MAX_CONNECTIONS_PER_IP gets HTTP 503; one closing makes room."""
    async with AsyncExitStack() as open_connections:
        clients = [
            await open_connections.enter_async_context(raw_client(url(stack, BOB))) for _ in range(PER_IP)
        ]
        for client in clients:
            await client.initialize()
        with pytest.raises(InvalidStatus) as refused:
            async with raw_client(url(stack, BOB)):
                pass
        assert refused.value.response.status_code == 503
        assert refused.value.response.headers["Retry-After"]
        await clients[0].ws.close()
        with anyio.fail_after(10):
            while True:  # the gateway notices the close asynchronously
                try:
                    async with raw_client(url(stack, BOB)) as again:
                        assert "result" in await again.initialize()
                        break
                except InvalidStatus:
                    await anyio.sleep(0.05)


def exai(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args, "--url", stack.gateway_url],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_cli_starts_a_task_and_fetches_its_result_later(stack: Stack) -> None:
    """`exai call --task` prints an id; `exai task get|result|list|cancel ID` use it."""
    started = exai(stack, "call", "--task", "chat", "prompt=from the command line emulate:latency_ms=300")
    assert started.returncode == 0, started.stderr
    task_id = started.stdout.strip()
    assert len(task_id) == 32
    result = exai(stack, "task", "result", task_id)
    assert result.returncode == 0, result.stderr
    assert "from the command line" in result.stdout
    status = exai(stack, "task", "get", task_id, "--raw")
    assert json.loads(status.stdout)["status"] == "completed"
    assert task_id in exai(stack, "task", "list").stdout
    cancelled = exai(stack, "task", "cancel", task_id)
    assert cancelled.returncode == 1 and "already completed" in cancelled.stderr


async def test_no_secret_appears_in_any_log_or_monitoring_response(stack: Stack) -> None:
    """Every configured token and API key is absent from all process logs and monitoring answers."""
    async with raw_client(url(stack, ALICE)) as client:  # some traffic of every kind first
        await client.initialize()
        await client.request(1, "tools/call", {"name": "chat", "arguments": {"prompt": "hello"}})
        await client.request(2, "tools/call", {"name": "chat", "arguments": {"prompt": "x", "model": "nope"}})
    secrets = [ALICE, BOB, TOKEN, stack.env["KIMI_API_KEY"], stack.env["GLM_API_KEY"]]
    bodies = []
    async with httpx.AsyncClient(timeout=10) as http:
        for name, base in stack.monitor_urls.items():
            paths = {
                "health": ["/health", "/healthz", "/health/live", "/health/ready"],
                "metrics": ["/metrics"],
            }
            for path in paths.get(name, ["/", "/state"]):
                bodies.append((await http.get(base.rstrip("/") + path)).text)
    assert stack.monitor is not None and stack.gateway is not None
    outputs = [stack.logs(), stack.monitor.text(), *bodies]
    leaked = [s[:6] + "…" for s in secrets for text in outputs if s in text]
    assert leaked == []
    assert len(bodies) >= 6 and all(bodies)
