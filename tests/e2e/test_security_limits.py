"""Named client tokens, per-client and connection limits that hold against a hostile client (real
reconnects, slowloris sockets, floods of sessions and waits), the task CLI, and no secret in any output."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack

import anyio
import httpx
import pytest
from websockets.exceptions import InvalidStatus

from tests.support.clients import WAIT, initialize_params, raw_client
from tests.support.polling import eventually
from tests.support.stack import TOKEN, Stack, running_stack

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

ALICE = "alice-secret-token-0123456789"
BOB = "bob-secret-token-01234567890a"
PER_IP = 6
IN_FLIGHT = 2
SESSION_PENDING = 4
CLIENT_PENDING = 6
HTTP_SESSIONS = 3
UNUSED_S = 2.0
HANDSHAKE_S = 3.0
BODY_S = 2.0
VERSION = {"name": "version", "arguments": {}}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Three clients (alice, bob, and `default` from EXAI_WS_TOKEN), tight limits, and the monitor."""
    with running_stack(
        tmp_path_factory.mktemp("security"),
        monitor=True,
        EXAI_WS_TOKENS=f"alice:{ALICE},bob:{BOB}",
        EXAI_MAX_CONNECTIONS_PER_IP=str(PER_IP),
        EXAI_CLIENT_MAX_IN_FLIGHT=str(IN_FLIGHT),
        EXAI_SESSION_MAX_PENDING=str(SESSION_PENDING),
        EXAI_CLIENT_MAX_PENDING=str(CLIENT_PENDING),
        EXAI_HTTP_MAX_SESSIONS_PER_CLIENT=str(HTTP_SESSIONS),
        EXAI_HTTP_SESSION_UNUSED_S=str(UNUSED_S),
        EXAI_HANDSHAKE_TIMEOUT_S=str(HANDSHAKE_S),
        EXAI_HTTP_BODY_TIMEOUT_S=str(BODY_S),
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


def at_the_provider(stack: Stack) -> int:
    return sum(stack.emulator_stats()["in_flight"].values())


async def test_reconnecting_does_not_bypass_the_in_flight_limit(stack: Stack) -> None:
    """Calls keep their slots after their client leaves: five reconnects each get a refusal, the
    provider never sees more than EXAI_CLIENT_MAX_IN_FLIGHT calls of alice, and once those calls
    end the slots come back."""
    slow = {"name": "chat", "arguments": {"prompt": "held emulate:latency_ms=4000"}}
    async with raw_client(url(stack, ALICE)) as first:
        await first.initialize()
        for n in range(IN_FLIGHT):
            await first.send({"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": slow})
        await anyio.to_thread.run_sync(
            lambda: eventually(lambda: at_the_provider(stack) >= IN_FLIGHT, "calls at the provider", WAIT)
        )
    refusals = []
    for n in range(5):
        async with raw_client(url(stack, ALICE)) as again:
            await again.initialize()
            with anyio.fail_after(5):  # refused at once
                refusals.append(await again.request(f"again-{n}", "tools/call", slow))
    peak = sum(stack.emulator_stats()["max_in_flight"].values())
    await anyio.to_thread.run_sync(
        lambda: eventually(lambda: at_the_provider(stack) == 0, "the held calls ended", WAIT)
    )
    async with raw_client(url(stack, ALICE)) as later:
        await later.initialize()
        with anyio.fail_after(WAIT):
            while True:  # the outcome reaches the gateway a moment after the provider answered
                after = await later.request(f"after-{time.monotonic()}", "tools/call", VERSION)
                if after["result"]["isError"] is False:
                    break
                await anyio.sleep(0.1)
    for refused in refusals:
        assert refused["result"]["isError"] is True, refused
        assert "EXAI_CLIENT_MAX_IN_FLIGHT" in refused["result"]["content"][0]["text"]
    assert peak <= IN_FLIGHT


async def test_outstanding_requests_are_capped_per_session_and_per_client_for_every_method(
    stack: Stack,
) -> None:
    """tasks/result waits fill bob's session cap, then his client cap over a second session; past
    either, any method that waits (tasks/result, tools/call) is -32000 naming the limit, while ping
    is still answered; when the task ends every wait is answered and there is room again."""
    async with raw_client(url(stack, BOB)) as first, raw_client(url(stack, BOB)) as second:
        await first.initialize()
        await second.initialize()
        created = await first.request(
            "task",
            "tools/call",
            {"name": "chat", "arguments": {"prompt": "wait emulate:latency_ms=3000"}, "task": {}},
        )
        task = {"taskId": created["result"]["task"]["taskId"]}
        for n in range(SESSION_PENDING):
            await first.send({"jsonrpc": "2.0", "id": f"w{n}", "method": "tasks/result", "params": task})
        session_full = await first.request("over", "tasks/result", task)
        pong = await first.request("ping", "ping")
        for n in range(CLIENT_PENDING - SESSION_PENDING):
            await second.send({"jsonrpc": "2.0", "id": f"x{n}", "method": "tasks/result", "params": task})
        client_full = await second.request("over", "tasks/result", task)
        call_refused = await second.request("call", "tools/call", VERSION)
        waits = [await first.response(f"w{n}") for n in range(SESSION_PENDING)]
        waits += [await second.response(f"x{n}") for n in range(CLIENT_PENDING - SESSION_PENDING)]
        with anyio.fail_after(WAIT):
            while True:  # each wait gives its place back as its task ends, just after its answer
                again = await first.request(f"again-{time.monotonic()}", "tasks/result", task)
                if "result" in again:
                    break
                await anyio.sleep(0.05)
    assert (
        session_full["error"]["code"] == -32000
        and session_full["error"]["data"]["limit"] == "session_pending"
    )
    assert (
        client_full["error"]["code"] == -32000 and client_full["error"]["data"]["limit"] == "client_pending"
    )
    assert call_refused["error"]["data"]["limit"] == "client_pending"
    assert all(e["error"]["data"]["retryAfter"] > 0 for e in (session_full, client_full, call_refused))
    assert pong["result"] == {}
    assert all(w["result"]["isError"] is False for w in waits)


HTTP_HEADERS = {"Accept": "application/json, text/event-stream"}


def http_headers(token: str, session_id: str | None = None) -> dict[str, str]:
    headers = {**HTTP_HEADERS, "Authorization": f"Bearer {token}"}
    return headers if session_id is None else {**headers, "Mcp-Session-Id": session_id}


async def new_http_session(client: httpx.AsyncClient, stack: Stack, token: str, *, use: bool = True) -> str:
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": initialize_params("t")}
    answer = await client.post(stack.http_url, json=init, headers=http_headers(token))
    assert answer.status_code == 200, answer.text
    session_id = answer.headers["Mcp-Session-Id"]
    if use:
        await http_ping(client, stack, token, session_id)
    return session_id


async def http_ping(client: httpx.AsyncClient, stack: Stack, token: str, session_id: str) -> int:
    ping = {"jsonrpc": "2.0", "id": "p", "method": "ping"}
    return (await client.post(stack.http_url, json=ping, headers=http_headers(token, session_id))).status_code


async def test_a_hundred_bare_initialize_posts_do_not_lock_the_address_out_of_websocket(stack: Stack) -> None:
    """HTTP sessions are not sockets: 100 initialize POSTs (more than EXAI_MAX_CONNECTIONS_PER_IP) all
    succeed, bob keeps only his newest EXAI_HTTP_MAX_SESSIONS_PER_CLIENT, and a WebSocket client from
    the same address still connects."""
    async with httpx.AsyncClient(timeout=WAIT) as client:
        ids = [await new_http_session(client, stack, BOB, use=False) for _ in range(100)]
        assert await http_ping(client, stack, BOB, ids[0]) == 404  # ended to make room
        assert await http_ping(client, stack, BOB, ids[-1]) == 200
        for session_id in ids[-HTTP_SESSIONS:]:
            await client.delete(stack.http_url, headers=http_headers(BOB, session_id))
    async with raw_client(url(stack, BOB)) as ws:
        assert "result" in await ws.initialize()


async def test_a_clients_http_session_cap_ends_its_least_recently_used_idle_session(stack: Stack) -> None:
    """At the cap, a new session ends the idle one used longest ago; when every session is busy (a
    GET stream open on each) a new one is refused with 503 and -32000 naming the limit."""
    async with httpx.AsyncClient(timeout=WAIT) as client, AsyncExitStack() as streams:
        one, two, three = [await new_http_session(client, stack, TOKEN) for _ in range(HTTP_SESSIONS)]
        assert await http_ping(client, stack, TOKEN, one) == 200  # `two` is now the least recently used
        four = await new_http_session(client, stack, TOKEN)
        assert [await http_ping(client, stack, TOKEN, s) for s in (one, two, three, four)] == [
            200,
            404,
            200,
            200,
        ]
        for session_id in (one, three, four):
            headers = {**http_headers(TOKEN, session_id), "Accept": "text/event-stream"}
            stream = await streams.enter_async_context(client.stream("GET", stack.http_url, headers=headers))
            assert stream.status_code == 200
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": initialize_params("t")}
        refused = await client.post(stack.http_url, json=init, headers=http_headers(TOKEN))
        for session_id in (one, three, four):
            await client.delete(stack.http_url, headers=http_headers(TOKEN, session_id))
    assert refused.status_code == 503 and refused.headers["Retry-After"]
    assert refused.json()["error"]["code"] == -32000
    assert refused.json()["error"]["data"]["limit"] == "http_sessions_per_client"


async def test_an_http_session_unused_after_initialize_expires_and_a_used_one_stays(stack: Stack) -> None:
    """A session that gets no request after initialize ends after EXAI_HTTP_SESSION_UNUSED_S."""
    assert stack.gateway is not None
    async with httpx.AsyncClient(timeout=WAIT) as client:
        unused = await new_http_session(client, stack, ALICE, use=False)
        used = await new_http_session(client, stack, ALICE)
        await anyio.to_thread.run_sync(
            lambda: (
                stack.gateway
                and stack.gateway.wait_for(
                    rf"HTTP session {unused[:8]}… of alice unused after initialize; ended",
                    timeout=UNUSED_S + 10,
                )
            )
        )
        assert await http_ping(client, stack, ALICE, unused) == 404
        assert await http_ping(client, stack, ALICE, used) == 200
        await client.delete(stack.http_url, headers=http_headers(ALICE, used))


def port_of(base: str) -> int:
    return int(base.rsplit(":", 1)[1].split("/", 1)[0])


@pytest.mark.parametrize("front", ["http", "websocket"])
async def test_a_slowloris_connection_is_closed_within_the_handshake_deadline(
    stack: Stack, front: str
) -> None:
    """Headers sent a byte at a time: the connection is closed within EXAI_HANDSHAKE_TIMEOUT_S (plus
    a margin), on both fronts; the probes still answer."""
    port = port_of(stack.http_url if front == "http" else stack.gateway_url)
    request = (
        (
            b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            if front == "http"
            else b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        )
        + b"X-Slow: "
        + b"a" * 10_000
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()

    async def trickle() -> None:
        with contextlib.suppress(ConnectionError):
            for byte in request:
                writer.write(bytes([byte]))
                await writer.drain()
                await anyio.sleep(0.2)  # the attack's pace

    sender = asyncio.ensure_future(trickle())
    try:
        with anyio.fail_after(HANDSHAKE_S + 7):
            while await reader.read(65536):
                pass  # whatever comes, until the server closes the connection
        closed_after = time.monotonic() - started
    finally:
        sender.cancel()
        writer.close()
    assert HANDSHAKE_S - 0.5 <= closed_after <= HANDSHAKE_S + 7
    async with httpx.AsyncClient(timeout=WAIT) as client:
        assert (await client.get(stack.http_url.replace("/mcp", "/livez"))).status_code == 200


async def test_a_slow_body_is_answered_408_and_closed_within_the_body_deadline(stack: Stack) -> None:
    """Complete headers, then a body a byte at a time: 408 with a JSON-RPC error, and the connection
    closes, within EXAI_HTTP_BODY_TIMEOUT_S plus a margin."""
    body = b'{"jsonrpc":"2.0","id":1,"method":"ping"}' + b" " * 1000
    head = (
        f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
        f"Accept: application/json\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", port_of(stack.http_url))
    writer.write(head)
    started = time.monotonic()

    async def trickle() -> None:
        with contextlib.suppress(ConnectionError):
            for byte in body:
                writer.write(bytes([byte]))
                await writer.drain()
                await anyio.sleep(0.2)  # the attack's pace

    sender = asyncio.ensure_future(trickle())
    answer = b""
    try:
        with anyio.fail_after(BODY_S + 7):
            while chunk := await reader.read(65536):
                answer += chunk
        closed_after = time.monotonic() - started
    finally:
        sender.cancel()
        writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 408"), answer[:200]
    assert json.loads(rest.partition(b"\r\n\r\n")[2])["error"]["message"].startswith("Request Timeout")
    assert BODY_S - 0.5 <= closed_after <= BODY_S + 7


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
