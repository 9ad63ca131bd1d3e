"""Hostile input on every front, against the real service: one answer per request, whatever its text.

A lone UTF-16 surrogate (``"\\ud800"`` is valid JSON, but no valid string) in an id, a method, a tool
name, an argument or a taskId used to fail the send (the connection went silent or dropped, losing
the other calls on it), leave ``tasks/get``/``tasks/result`` unanswered, give a bare HTTP 500, or stop
the stdio bridge. Each front now answers such a request with one error (with its id when the id is
sound) and carries on. Also here: a client dropping right after a plain call leaves no task behind
that nothing runs.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import anyio
import httpx
import pytest
import redis

from contracts.names import task_index_key
from tests.e2e.test_legacy_protocol import greeted
from tests.e2e.test_stdio_bridge import REPO, BridgeProcess, bridge_env
from tests.e2e.test_streamable_http import ACCEPT, AUTH, initialized
from tests.support.clients import WAIT, initialize_params, raw_client
from tests.support.polling import eventually
from tests.support.stack import Stack

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

SLOW = {"name": "chat", "arguments": {"prompt": "meanwhile emulate:latency_ms=1500"}}
# Frames as the client sends them: JSON text whose \\ud800 escapes decode to lone surrogates.
SURROGATE_ID = '{"jsonrpc":"2.0","id":"x\\ud800","method":"ping"}'
SURROGATE_METHOD = '{"jsonrpc":"2.0","id":"m","method":"pi\\udc00ng"}'
SURROGATE_TOOL = '{"jsonrpc":"2.0","id":"t","method":"tools/call","params":{"name":"\\ud800","arguments":{}}}'
SURROGATE_ARGUMENT = (
    '{"jsonrpc":"2.0","id":"a","method":"tools/call",'
    '"params":{"name":"chat","arguments":{"prompt":"\\ud800"}}}'
)
SURROGATE_GET = '{"jsonrpc":"2.0","id":"g","method":"tasks/get","params":{"taskId":"\\ud800"}}'
SURROGATE_RESULT = '{"jsonrpc":"2.0","id":"r","method":"tasks/result","params":{"taskId":"a\\udfffb"}}'
HOSTILE = {
    SURROGATE_ID: (None, -32600),
    SURROGATE_METHOD: ("m", -32600),
    SURROGATE_TOOL: ("t", -32602),
    SURROGATE_ARGUMENT: ("a", -32602),
    SURROGATE_GET: ("g", -32602),
    SURROGATE_RESULT: ("r", -32602),
}


async def test_a_lone_surrogate_on_websocket_gets_one_error_and_the_other_calls_still_complete(
    stack: Stack,
) -> None:
    """In the id, method, tool name, an argument or a taskId: one error each (with the id when it is
    sound); a call already running on the connection completes and the connection stays usable."""
    async with raw_client(stack.authed_url) as client:
        await client.initialize()
        await client.send({"jsonrpc": "2.0", "id": "slow", "method": "tools/call", "params": SLOW})
        for frame in HOSTILE:
            await client.send(frame)
        errors = []
        with anyio.fail_after(WAIT):
            while len(errors) < len(HOSTILE):
                message = await client.receive()
                if "error" in message:
                    errors.append((message["id"], message["error"]["code"]))
                elif message.get("id") == "slow":
                    client.backlog.append(message)
        slow = await client.response("slow")
        version = await client.request("v", "tools/call", {"name": "version", "arguments": {}})
    assert sorted(errors, key=str) == sorted(HOSTILE.values(), key=str)
    assert (
        slow["result"]["isError"] is False and "meanwhile" in slow["result"]["structuredContent"]["content"]
    )
    assert version["result"]["isError"] is False


async def test_a_lone_surrogate_over_streamable_http_gets_a_json_rpc_error_never_a_500(stack: Stack) -> None:
    """Each hostile POST is answered with a JSON-RPC error (400 when its id is unreadable, else 200
    with its id); invalid UTF-8 is a parse error; a call running on the session meanwhile completes."""
    url = stack.http_url
    async with httpx.AsyncClient(timeout=WAIT) as client:
        session_id = await initialized(client, url)
        headers = {**AUTH, **ACCEPT, "Content-Type": "application/json", "Mcp-Session-Id": session_id}
        call = {"jsonrpc": "2.0", "id": "slow", "method": "tools/call", "params": SLOW}
        slow = asyncio.ensure_future(client.post(url, json=call, headers=headers))
        answers = []
        for frame in HOSTILE:
            answers.append(await client.post(url, content=frame.encode(), headers=headers))
        garbled = await client.post(url, content=b'{"jsonrpc":"2.0","id":1,"method":"\xff"}', headers=headers)
        done = await slow
    for answer, (msg_id, code) in zip(answers, HOSTILE.values(), strict=True):
        assert answer.status_code == (400 if msg_id is None else 200), answer.text
        assert answer.json()["id"] == msg_id and answer.json()["error"]["code"] == code
    assert garbled.status_code == 400 and garbled.json()["error"]["code"] == -32700
    assert not slow.cancelled() and done.status_code == 200
    assert '"id":"slow"' in done.text and '"isError":false' in done.text and "meanwhile" in done.text


async def test_a_lone_surrogate_on_the_old_protocol_is_an_invalid_request_and_the_connection_goes_on(
    stack: Stack,
) -> None:
    """In a tool name, an argument, the op or a request_id (and a NaN request_id): INVALID_REQUEST
    naming the request when it can; a call already running completes; ping still answers."""
    async with greeted(stack) as client:
        await client.send(
            {"op": "call_tool", "request_id": "c1", "name": "chat", "arguments": SLOW["arguments"]}
        )
        await client.until("call_tool_ack", "c1")
        await client.send('{"op":"call_tool","request_id":"s1","name":"ch\\ud800at","arguments":{}}')
        name, _ = await client.until("call_tool_res", "s1")
        await client.send(
            '{"op":"call_tool","request_id":"s2","name":"chat","arguments":{"prompt":"\\ud800"}}'
        )
        argument, _ = await client.until("call_tool_res", "s2")
        await client.send('{"op":"ping","request_id":"p\\udfff"}')
        unreadable, _ = await client.until("error", None)
        await client.send('{"op":"ping","request_id":NaN}')
        not_a_number, _ = await client.until("error", None)
        await client.send('{"op":"pi\\ud800ng","request_id":"s3"}')
        op, _ = await client.until("error", "s3")
        result, _ = await client.until("call_tool_res", "c1")
        await client.send({"op": "ping", "request_id": "p2"})
        pong, _ = await client.until("pong", "p2")
    for refused in (name, argument, unreadable, not_a_number, op):
        assert refused["error"]["code"] == "INVALID_REQUEST", refused
    assert "surrogate" in name["error"]["message"] and "finite" in not_a_number["error"]["message"]
    assert "error" not in result and "meanwhile" in json.loads(result["text"])["content"]
    assert pong == {"op": "pong", "request_id": "p2"}


async def test_a_lone_surrogate_through_the_stdio_bridge_gets_one_error_and_the_bridge_goes_on(
    stack: Stack, tmp_path: Path
) -> None:
    """The bridge answers such a line itself (under the client's id, or null), and a request too large
    for the gateway too; it does not stop, a call running meanwhile completes, and the next requests
    reach the gateway as before."""
    with (tmp_path / "stderr.log").open("w") as err:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cli.main",
            "stdio",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=err,
            env=bridge_env(stack),
            cwd=REPO,
        )
        bridge = BridgeProcess(process)
        assert process.stdin is not None
        try:
            await bridge.send(
                {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": initialize_params("t")}
            )
            await bridge.answer(1)
            await bridge.send({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": SLOW})
            # A client's answer to the gateway is owed nothing and forwarded as it is: it must not
            # stop the bridge (it did, when it could not be encoded).
            process.stdin.write(b'{"jsonrpc":"2.0","id":"ours","result":{"text":"\\ud800"}}\n')
            for frame in (SURROGATE_ID, SURROGATE_TOOL, SURROGATE_RESULT):
                process.stdin.write(frame.encode() + b"\n")
            process.stdin.write(b'{"jsonrpc":"2.0","id":2,"method":"\xed\xa0\x80"}\n')  # an encoded surrogate
            huge = {"jsonrpc": "2.0", "id": "big", "method": "ping", "params": {"x": "y" * (4 * 1024 * 1024)}}
            process.stdin.write(json.dumps(huge).encode() + b"\n")  # above EXAI_WS_MAX_FRAME_BYTES
            await process.stdin.drain()
            errors = [await bridge.receive() for _ in range(5)]  # at once, while the call runs
            call = await bridge.answer(3)
            await bridge.send({"jsonrpc": "2.0", "id": 4, "method": "ping"})
            pong = await bridge.answer(4)
        finally:
            process.stdin.close()
            with anyio.fail_after(WAIT):
                assert await process.wait() == 0
    assert [(e["id"], e["error"]["code"]) for e in errors] == [
        (None, -32600),
        ("t", -32602),
        ("r", -32602),
        (None, -32700),
        ("big", -32600),  # the gateway would close the connection, and the bridge resend it forever
    ]
    assert (
        call["result"]["isError"] is False and "meanwhile" in call["result"]["structuredContent"]["content"]
    )
    assert pong["result"] == {}


def _tasks_since(stack: Stack, started: float) -> list[str]:
    client = redis.Redis.from_url(stack.env["REDIS_URL"])
    try:
        return [i.decode() for i in client.zrangebyscore(task_index_key("default"), started, "+inf")]
    finally:
        client.close()


# Drops at these delays after the calls (ms) land before, during and after their recording.
DROP_DELAYS_MS = (0, 0.2, 0.5, 1, 1.5, 2, 3, 4, 6, 8, 12)


async def test_a_client_dropping_right_after_its_calls_leaves_no_working_task(stack: Stack) -> None:
    """Calls sent just before their connection drops are recorded and queued together: every task
    recorded ends with its call's real outcome (none stays `working` until the 600 s deadline), and
    as every call was accepted before the drop, every one of them is recorded."""
    started = time.time()
    sent = 0
    for delay_ms in DROP_DELAYS_MS:
        async with raw_client(stack.authed_url) as client:
            await client.initialize()
            for n in range(3):
                params = {"name": "chat", "arguments": {"prompt": f"dropped {n} emulate:latency_ms=200"}}
                await client.send({"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": params})
                sent += 1
            await anyio.sleep(delay_ms / 1000)  # the attack's timing, not a wait for the gateway
        # leaving the block drops the connection while the gateway may still be queueing

    def all_recorded() -> list[str] | None:
        ids = _tasks_since(stack, started)
        return ids if len(ids) == sent else None

    try:
        task_ids = await anyio.to_thread.run_sync(lambda: eventually(all_recorded, "every call recorded", 10))
    except AssertionError:
        task_ids = _tasks_since(stack, started)  # some are missing: checked after the phantoms
    async with raw_client(stack.authed_url) as client:
        await client.initialize()
        for task_id in task_ids:
            await client.send(
                {"jsonrpc": "2.0", "id": task_id, "method": "tasks/result", "params": {"taskId": task_id}}
            )
            try:
                result = await client.response(task_id, timeout=15)
            except TimeoutError:
                pytest.fail(f"task {task_id} is still working with no call behind it")
            assert result["result"]["isError"] is False, result
            assert "dropped" in result["result"]["structuredContent"]["content"]
    assert len(task_ids) == sent
