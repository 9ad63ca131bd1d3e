"""Hostile input, property-based, on every front of a real gateway: WebSocket, Streamable HTTP, the
old daemon's protocol and the stdio bridge.

Each example sends a handful of generated frames on one connection (HTTP: one session; stdio: the
one bridge process): broken JSON, wrong types, unknown methods, deep nesting, binary frames, and
hostile values anywhere in a message: lone UTF-16 surrogates, NUL, huge and non-ASCII strings, NaN,
±Infinity, huge integers and floats as ids. The property, on every front: every request with a
sound id gets exactly one answer with that id, every other bad frame its one error, nothing answers
what was not asked; the connection survives (it closes, with the right code, only for an oversized
frame or, in the old protocol, a frame that is not JSON); and a normal call on the same connection
afterwards still succeeds. Meanwhile a well-behaved client on the same gateway keeps calling; it
must see no failure at all.

Bounds: ``EXAMPLES`` per front (each up to 12 frames), every wait at most ``ANSWER_WAIT_S``; the
module takes about 30 s on a quiet machine.
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from tests.support.clients import initialize_params
from tests.support.stack import TOKEN, Stack, running_stack

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(300),
    pytest.mark.filterwarnings("ignore:Generating overly large repr:hypothesis.errors.HypothesisWarning"),
]

MAX_FRAME = 65536  # a small EXAI_WS_MAX_FRAME_BYTES keeps oversize frames cheap
EXAMPLES = {"websocket": 200, "http": 100, "legacy": 100, "stdio": 80}
ANSWER_WAIT_S = 15.0
REPO = Path(__file__).resolve().parents[2]

METHODS = [
    "ping",
    "tools/list",
    "tools/call",
    "tasks/get",
    "tasks/list",
    "tasks/result",
    "tasks/cancel",
    "logging/setLevel",
    "initialize",
    "server/discover",
    "notifications/initialized",
    "nope/nope",
]

# --- hostile values ------------------------------------------------------------------------------
surrogates = st.text(alphabet=st.characters(categories=["Cs"]), min_size=1, max_size=3)
hostile_text = st.one_of(
    st.text(max_size=20),
    surrogates,
    st.tuples(st.text(max_size=5), surrogates, st.text(max_size=5)).map("".join),
    st.sampled_from(["\x00", "nul\x00byte", "é✓😀中文", "\u2028\u2029", "\ufeff", "\U0010ffff"]),
    st.just("x" * 5000),
)
hostile_numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -0.0, 10**400]),
    st.floats(),
)
json_values = st.recursive(
    st.none() | st.booleans() | hostile_numbers | hostile_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile_text, inner, max_size=4),
    max_leaves=12,
)
ids = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    hostile_text,
    st.none(),
    st.booleans(),
    hostile_numbers,
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
params = st.one_of(
    st.none(),
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "name": st.sampled_from(["version", "chat", "nope", ""]) | hostile_text | json_values,
            "arguments": json_values | st.fixed_dictionaries({}, optional={"prompt": hostile_text}),
            "taskId": hostile_text | json_values,
            "cursor": json_values,
            "level": st.sampled_from(["debug", "loud"]) | json_values,
            "protocolVersion": st.sampled_from(["2025-11-25", "1999-01-01"]) | json_values,
            "task": json_values | st.fixed_dictionaries({}, optional={"ttl": hostile_numbers}),
            "_meta": st.fixed_dictionaries({}, optional={"progressToken": ids}),
        },
    ),
)


@st.composite
def messages(draw: st.DrawFn) -> dict[str, Any]:
    message: dict[str, Any] = {}
    if draw(st.integers(0, 9)):  # mostly correct, so the checks past the version are reached
        message["jsonrpc"] = "2.0"
    else:
        message["jsonrpc"] = draw(json_values)
    if draw(st.booleans()):
        message["id"] = draw(ids)
    method = draw(st.sampled_from(METHODS) | hostile_text | json_values)
    if draw(st.integers(0, 9)):
        message["method"] = method
    if draw(st.booleans()):
        message["params"] = draw(params)
    if draw(st.integers(0, 19)) == 0:
        message["result"] = draw(json_values)
    return message


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


# Python's parser gives up past ~1000 levels (the recursion limit, which hypothesis itself may
# change in this process): nest well below or well above it, so the expected answer is certain.
PARSE_DEPTH_LIMIT = 950
depths = st.integers(10, 400) | st.integers(3000, 30_000)  # under MAX_FRAME bytes
HUGE_INTEGER_ID = '{"jsonrpc":"2.0","id":' + "9" * 5000 + ',"method":"ping"}'  # past int's digit limit


def nesting(text: str) -> int:
    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def fits(frame: str | bytes) -> bool:
    """Well under the frame limit: an oversized frame is the `last` one, sent on purpose."""
    return len(frame if isinstance(frame, bytes) else frame.encode()) <= MAX_FRAME // 2


# json.dumps writes NaN/Infinity as Python does, and surrogates as \ud800 escapes: as a client would.
frames = st.one_of(
    messages().map(json.dumps),
    st.binary(max_size=64),
    st.text(max_size=64),
    json_values.map(json.dumps),
    depths.map(deep),
    depths.map(lambda n: '{"jsonrpc":"2.0","id":1,"method":"ping","params":' + deep(n) + "}"),
    st.just(HUGE_INTEGER_ID),
).filter(fits)
batches = st.lists(frames, min_size=1, max_size=12)


# --- the rules: what the gateway owes each frame ------------------------------------------------
@dataclass
class Expectation:
    """What one frame is owed: an answer for ``answer_id``, or one error without an id, or nothing."""

    answer_id: Any = None
    anonymous_error: bool = False
    nothing: bool = False


def holds_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return any("\ud800" <= char <= "\udfff" for char in value)
    if isinstance(value, dict):
        return any(holds_surrogate(k) or holds_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(holds_surrogate(v) for v in value)
    return False


def _valid_id(value: Any) -> bool:
    if isinstance(value, str):
        return not holds_surrogate(value)
    return isinstance(value, int) and not isinstance(value, bool)


def expectation(frame: str | bytes) -> Expectation:
    """The JSON-RPC rules for one frame (the ones gateway/jsonrpc.py implements, written again)."""
    if isinstance(frame, bytes) or nesting(frame) > PARSE_DEPTH_LIMIT:
        return Expectation(anonymous_error=True)
    try:
        data = json.loads(frame)
    except (ValueError, RecursionError):
        return Expectation(anonymous_error=True)
    if not isinstance(data, dict):
        return Expectation(anonymous_error=True)
    msg_id = data.get("id") if _valid_id(data.get("id")) else None
    if data.get("jsonrpc") != "2.0" or ("id" in data and msg_id is None):
        return Expectation(answer_id=msg_id, anonymous_error=msg_id is None)
    method = data.get("method")
    if method is None and ("result" in data or "error" in data):
        return Expectation(nothing=True)
    if holds_surrogate(data) or not isinstance(method, str) or not method:
        return Expectation(answer_id=msg_id, anonymous_error=msg_id is None)
    raw_params = data.get("params", {})
    if raw_params is not None and not isinstance(raw_params, dict):
        return Expectation(answer_id=msg_id, anonymous_error=msg_id is None)
    return Expectation(answer_id=msg_id) if msg_id is not None else Expectation(nothing=True)


def as_text(frame: str | bytes) -> str | bytes:
    """A body or a line is bytes on the wire: what the gateway reads of it, as UTF-8 if it is."""
    if isinstance(frame, bytes):
        try:
            return frame.decode("utf-8")
        except UnicodeDecodeError:
            return frame
    return frame


def unique(frame: str | bytes, n: int) -> str | bytes:
    """Give a request a fresh id of the same kind, so answers can be told apart."""
    if isinstance(frame, bytes) or nesting(frame) > PARSE_DEPTH_LIMIT:
        return frame
    try:
        data = json.loads(frame)
    except (ValueError, RecursionError):
        return frame
    if isinstance(data, dict) and isinstance(data.get("id"), str | int) and not isinstance(data["id"], bool):
        data["id"] = f"{n}:{data['id']}" if isinstance(data["id"], str) else data["id"] * 1000 + n
        params = data.get("params")
        if isinstance(params, dict) and "requestId" in params:
            params["requestId"] = f"nc-{params['requestId']}"  # never cancels a fuzz call
        return json.dumps(data)
    return frame


def key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


VERSION_CALL = {"name": "version", "arguments": {}}


# --- the service, and a client that must not notice anything --------------------------------------
class GoodClient:
    """A well-behaved client calling `ping` and `version` in a loop on its own thread."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.stop = threading.Event()
        self.ok = 0
        self.failures: list[str] = []
        self.slowest = 0.0
        self.thread = threading.Thread(target=lambda: anyio.run(self._run), daemon=True)

    async def _run(self) -> None:
        try:
            async with connect(self.url, subprotocols=[Subprotocol("mcp")]) as ws:
                init = {
                    "jsonrpc": "2.0",
                    "id": "init",
                    "method": "initialize",
                    "params": initialize_params("good"),
                }
                await ws.send(json.dumps(init))
                await ws.recv()
                n = 0
                while not self.stop.is_set():
                    n += 1
                    method, params = ("tools/call", VERSION_CALL) if n % 5 == 0 else ("ping", {})
                    started = time.monotonic()
                    await ws.send(json.dumps({"jsonrpc": "2.0", "id": n, "method": method, "params": params}))
                    with anyio.fail_after(ANSWER_WAIT_S):
                        while True:
                            answer = json.loads(await ws.recv())
                            if answer.get("id") == n:
                                break
                    self.slowest = max(self.slowest, time.monotonic() - started)
                    if "error" in answer or (answer["result"].get("isError") is True):
                        self.failures.append(json.dumps(answer)[:300])
                    else:
                        self.ok += 1
                    await anyio.sleep(0.02)  # the pace of a real client
        except Exception as exc:
            self.failures.append(repr(exc))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(
        tmp_path_factory.mktemp("fuzz"),
        EXAI_WS_MAX_FRAME_BYTES=str(MAX_FRAME),
        EXAI_CLIENT_CALLS_PER_MINUTE="100000",
    ) as running:
        yield running


@pytest.fixture(scope="module")
def good(stack: Stack) -> Iterator[GoodClient]:
    client = GoodClient(stack.authed_url)
    client.thread.start()
    yield client
    client.stop.set()
    client.thread.join(ANSWER_WAIT_S)


def healthy(stack: Stack, good: GoodClient, sent: int, at_least: int) -> None:
    assert stack.gateway is not None and stack.gateway.process is not None
    assert stack.gateway.process.poll() is None, "the gateway died"
    assert sent >= at_least
    assert good.failures == []
    assert good.ok > 10
    assert good.slowest < 10.0


def fuzz(front: str) -> Any:
    return settings(
        max_examples=EXAMPLES[front],
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def answer_of(message: dict[str, Any]) -> bool:
    return "method" not in message


# --- WebSocket --------------------------------------------------------------------------------
async def _ws_exchange(url: str, batch: list[str | bytes], last: str | None) -> None:
    expected = [expectation(frame) for frame in batch]
    async with connect(url, subprotocols=[Subprotocol("mcp")], max_size=None) as ws:
        init = {"jsonrpc": "2.0", "id": "init", "method": "initialize", "params": initialize_params("fuzz")}
        await ws.send(json.dumps(init))
        await ws.recv()
        for frame in batch:
            await ws.send(frame)
        if last == "oversize":
            await ws.send("x" * (MAX_FRAME + 1))
        elif last == "bad-utf8":
            await ws.send(b'{"jsonrpc":"2.0","id":"u","method":"ping","params":{"k":"\xff\xfe"}}', text=True)
        else:
            await ws.send(
                json.dumps({"jsonrpc": "2.0", "id": "final", "method": "tools/call", "params": VERSION_CALL})
            )
        want = Counter(key(e.answer_id) for e in expected if e.answer_id is not None)
        want_anonymous = sum(1 for e in expected if e.anonymous_error)
        answers: Counter[str] = Counter()
        anonymous = 0
        final: dict[str, Any] | None = None
        close_code = None
        try:
            with anyio.fail_after(ANSWER_WAIT_S):
                while answers != want or anonymous < want_anonymous or final is None:
                    message = json.loads(await ws.recv())
                    if not answer_of(message):
                        continue  # notifications (progress, tasks/status, logging)
                    if message.get("id") == "final":
                        final = message
                    elif message.get("id") is None:
                        assert "error" in message, message
                        anonymous += 1
                    else:
                        answers[key(message["id"])] += 1
                        assert answers[key(message["id"])] <= want[key(message["id"])], message
        except ConnectionClosed as closed:
            close_code = closed.rcvd.code if closed.rcvd else None
        assert set(answers) <= set(want)  # never an answer to something not asked
        if last is None:
            assert close_code is None
            assert answers == want and anonymous == want_anonymous
            assert final is not None and final["result"]["isError"] is False, final
        else:
            # Closed for the last frame with its code; answers still queued then may be cut off.
            assert close_code == {"oversize": 1009, "bad-utf8": 1007}[last]
            assert anonymous <= want_anonymous


def test_websocket_every_request_is_answered_once_and_a_good_client_never_notices(
    stack: Stack, good: GoodClient
) -> None:
    """Every frame is answered by the rules or closes with the right code; a call afterwards works."""
    sent = [0]

    @fuzz("websocket")
    @given(batch=batches, last=st.none() | st.none() | st.sampled_from(["oversize", "bad-utf8"]))
    def one_connection(batch: list[str | bytes], last: str | None) -> None:
        batch = [unique(frame, n) for n, frame in enumerate(batch)]
        sent[0] += len(batch) + 1
        anyio.run(_ws_exchange, stack.authed_url, batch, last)

    one_connection()
    healthy(stack, good, sent[0], 500)


# --- Streamable HTTP --------------------------------------------------------------------------
HTTP_HEADERS = {
    "Authorization": f"Bearer {TOKEN}",
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
}


def http_answers(response: httpx.Response) -> list[dict[str, Any]]:
    """The JSON-RPC answers in a response, whether it came as JSON or as server-sent events."""
    if response.headers.get("Content-Type", "").startswith("text/event-stream"):
        events = [json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: ")]
        return [e for e in events if answer_of(e)]
    return [response.json()]


async def _http_exchange(url: str, batch: list[str | bytes], last: str | None) -> None:
    async with httpx.AsyncClient(timeout=ANSWER_WAIT_S) as client:
        init = {"jsonrpc": "2.0", "id": "init", "method": "initialize", "params": initialize_params("fuzz")}
        opened = await client.post(url, json=init, headers=HTTP_HEADERS)
        sessions = [opened.headers["Mcp-Session-Id"]]
        headers = {**HTTP_HEADERS, "Mcp-Session-Id": sessions[0]}
        for frame in batch:
            body = frame if isinstance(frame, bytes) else frame.encode()
            expected = expectation(as_text(frame))
            response = await client.post(url, content=body, headers=headers)
            if response.headers.get("Mcp-Session-Id", sessions[0]) != sessions[0]:
                sessions.append(response.headers["Mcp-Session-Id"])  # a fuzzed initialize: its own session
            if expected.nothing:
                assert response.status_code == 202, (frame, response.status_code, response.text)
            elif expected.anonymous_error:
                assert response.status_code == 400, (frame, response.status_code, response.text)
                assert response.json()["id"] is None and "error" in response.json()
            else:
                assert response.status_code == 200, (frame, response.status_code, response.text)
                (answer,) = http_answers(response)
                assert key(answer["id"]) == key(expected.answer_id) and (
                    "result" in answer or "error" in answer
                )
        if last == "oversize":
            response = await client.post(url, content=b"x" * (MAX_FRAME + 1), headers=headers)
            assert response.status_code == 413 and response.json()["error"]["message"].startswith("Payload")
        elif last == "bad-utf8":
            body = b'{"jsonrpc":"2.0","id":"u","method":"ping","params":{"k":"\xff\xfe"}}'
            response = await client.post(url, content=body, headers=headers)
            assert response.status_code == 400 and response.json()["error"]["code"] == -32700
        call = {"jsonrpc": "2.0", "id": "final", "method": "tools/call", "params": VERSION_CALL}
        (final,) = http_answers(await client.post(url, json=call, headers=headers))
        assert final["id"] == "final" and final["result"]["isError"] is False, final
        for session_id in sessions:
            await client.delete(url, headers={**HTTP_HEADERS, "Mcp-Session-Id": session_id})


def test_http_every_post_gets_its_one_json_rpc_answer_and_the_session_carries_on(
    stack: Stack, good: GoodClient
) -> None:
    """Each POST is answered by the rules (200 with its id, 400 without, 202 for no request, 413 for
    an oversized body), never a bare 500; a call on the same session afterwards works."""
    sent = [0]

    @fuzz("http")
    @given(batch=batches, last=st.none() | st.none() | st.sampled_from(["oversize", "bad-utf8"]))
    def one_session(batch: list[str | bytes], last: str | None) -> None:
        batch = [unique(frame, n) for n, frame in enumerate(batch)]
        sent[0] += len(batch) + 1
        anyio.run(_http_exchange, stack.http_url, batch, last)

    one_session()
    healthy(stack, good, sent[0], 200)


# --- the old daemon's protocol ------------------------------------------------------------------
legacy_ops = st.sampled_from(["list_tools", "call_tool", "tool_call", "cancel", "ping", "hello", "nope"])
legacy_messages = st.fixed_dictionaries(
    {"op": legacy_ops | hostile_text | json_values},
    optional={
        "request_id": ids,
        "name": st.sampled_from(["version", "chat", "version_EXAI-WS", "nope"]) | hostile_text | json_values,
        "arguments": json_values | st.fixed_dictionaries({}, optional={"prompt": hostile_text}),
        "tool": json_values
        | st.fixed_dictionaries({"name": st.sampled_from(["version", "chat"]) | hostile_text}),
    },
).filter(lambda frame: fits(json.dumps(frame)))
LEGACY_FINAL_OPS = {"list_tools_res", "call_tool_res", "pong", "error"}


def legacy_unique(frame: dict[str, Any], n: int) -> dict[str, Any]:
    """A fresh request_id of the same kind (and str() form: calls are keyed by it), so answers can
    be told apart and a `cancel` never names another frame's call."""
    rid = frame.get("request_id")
    if isinstance(rid, str):
        return {**frame, "request_id": f"{n}:{rid}"}
    if isinstance(rid, int) and not isinstance(rid, bool):
        return {**frame, "request_id": rid * 1000 + n}
    return frame


def legacy_answer_id(frame: dict[str, Any]) -> Any:
    """The request_id the one answer to this frame carries (the old protocol's rules)."""
    rid = frame.get("request_id")
    if (
        isinstance(rid, dict | list)
        or (isinstance(rid, float) and not math.isfinite(rid))
        or holds_surrogate(rid)
    ):
        return None  # an id that cannot be echoed: the answer has none
    if holds_surrogate(frame):
        return rid  # INVALID_REQUEST for the frame, under its id
    if frame.get("op") in ("call_tool", "tool_call") and (
        not isinstance(rid, str | int) or isinstance(rid, bool)
    ):
        return None  # a call needs a string or integer request_id
    return rid


async def _legacy_exchange(url: str, batch: list[dict[str, Any]], last: str | None) -> None:
    want = Counter(key(legacy_answer_id(frame)) for frame in batch)
    async with connect(url, max_size=None) as ws:
        await ws.send(json.dumps({"op": "hello", "token": TOKEN}))
        assert json.loads(await ws.recv())["ok"] is True
        for frame in batch:
            await ws.send(json.dumps(frame))
        if last == "oversize":
            await ws.send("x" * (MAX_FRAME + 1))
        elif last == "not-json":
            await ws.send("{nope")
        else:
            await ws.send(
                json.dumps({"op": "call_tool", "request_id": "final", "name": "version", "arguments": {}})
            )
        answers: Counter[str] = Counter()
        final: dict[str, Any] | None = None
        close_code = None
        try:
            with anyio.fail_after(ANSWER_WAIT_S):
                while answers != want or final is None:
                    message = json.loads(await ws.recv())
                    if message.get("op") not in LEGACY_FINAL_OPS:
                        continue  # call_tool_ack, progress
                    if message.get("request_id") == "final":
                        final = message
                        continue
                    answers[key(message.get("request_id"))] += 1
                    assert answers[key(message.get("request_id"))] <= want[key(message.get("request_id"))], (
                        message
                    )
        except ConnectionClosed as closed:
            close_code = closed.rcvd.code if closed.rcvd else None
        assert set(answers) <= set(want)
        if last is None:
            assert close_code is None and answers == want
            assert final is not None and "error" not in final and final["op"] == "call_tool_res", final
        else:
            assert close_code == {"oversize": 1009, "not-json": 4000}[last]


def test_old_protocol_every_frame_is_answered_once_and_a_call_afterwards_works(
    stack: Stack, good: GoodClient
) -> None:
    """Hostile old-protocol frames each get one final answer with their request_id when it can be
    echoed (none otherwise); only an oversized frame or one that is not JSON closes the connection."""
    sent = [0]

    @fuzz("legacy")
    @given(
        batch=st.lists(legacy_messages, min_size=1, max_size=12),
        last=st.none() | st.none() | st.sampled_from(["oversize", "not-json"]),
    )
    def one_connection(batch: list[dict[str, Any]], last: str | None) -> None:
        # Judged as the gateway reads them: an escaped surrogate pair decodes to one valid character.
        batch = [legacy_unique(json.loads(json.dumps(frame)), n) for n, frame in enumerate(batch)]
        sent[0] += len(batch) + 1
        anyio.run(_legacy_exchange, stack.gateway_url, batch, last)

    one_connection()
    healthy(stack, good, sent[0], 200)


# --- the stdio bridge ---------------------------------------------------------------------------
class Bridge:
    """`exai stdio` as a real process, one line per message each way, kept for the whole test."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def write(self, line: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + b"\n")
        await self.process.stdin.drain()

    async def read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await self.process.stdout.readline()
        assert line, "the bridge closed its stdout"
        message: dict[str, Any] = json.loads(line)
        return message


@asynccontextmanager
async def running_bridge(stack: Stack, log: Path) -> AsyncIterator[Bridge]:
    env = {**stack.env, "EXAI_WS_URL": stack.gateway_url, "PYTHONPATH": str(REPO)}
    with log.open("w") as err:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cli.main",
            "stdio",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=err,
            env=env,
            cwd=REPO,
            limit=4 * MAX_FRAME,
        )
        bridge = Bridge(process)
        try:
            init = {
                "jsonrpc": "2.0",
                "id": "init",
                "method": "initialize",
                "params": initialize_params("fuzz"),
            }
            await bridge.write(json.dumps(init).encode())
            with anyio.fail_after(ANSWER_WAIT_S):
                assert (await bridge.read())["id"] == "init"
            yield bridge
        finally:
            assert process.stdin is not None
            process.stdin.close()
            with anyio.fail_after(ANSWER_WAIT_S):
                await process.wait()


def as_line(frame: str | bytes) -> bytes:
    return (frame if isinstance(frame, bytes) else frame.encode()).replace(b"\n", b" ")


async def _stdio_exchange(bridge: Bridge, batch: list[str | bytes], last: str | None, n: int) -> None:
    lines = [as_line(frame) for frame in batch]
    expected = [
        Expectation(nothing=True) if not line.strip() else expectation(as_text(line)) for line in lines
    ]
    want = Counter(key(e.answer_id) for e in expected if e.answer_id is not None)
    want_anonymous = sum(1 for e in expected if e.anonymous_error)
    for line in lines:
        await bridge.write(line)
    if last == "oversize":  # the gateway would close its connection: the bridge refuses it itself
        big = {"jsonrpc": "2.0", "id": f"big-{n}", "method": "ping", "params": {"x": "y" * MAX_FRAME}}
        await bridge.write(json.dumps(big).encode())
        want[key(f"big-{n}")] += 1
    final_id = f"final-{n}"
    await bridge.write(
        json.dumps(
            {"jsonrpc": "2.0", "id": final_id, "method": "tools/call", "params": VERSION_CALL}
        ).encode()
    )
    answers: Counter[str] = Counter()
    anonymous = 0
    final: dict[str, Any] | None = None
    with anyio.fail_after(ANSWER_WAIT_S):
        while answers != want or anonymous < want_anonymous or final is None:
            message = await bridge.read()
            if not answer_of(message):
                continue
            if message.get("id") == final_id:
                final = message
            elif message.get("id") is None:
                assert "error" in message, message
                anonymous += 1
            else:
                answers[key(message["id"])] += 1
                assert answers[key(message["id"])] <= want[key(message["id"])], message
    assert answers == want and anonymous == want_anonymous
    assert final["result"]["isError"] is False, final


def test_stdio_bridge_every_line_is_answered_once_and_the_bridge_carries_on(
    stack: Stack, good: GoodClient, tmp_path: Path
) -> None:
    """Through one bridge process: every line with a sound id gets one answer under that id (from the
    bridge or the gateway), every other bad line one error; the bridge never stops or stalls."""
    sent = [0]

    async def run() -> None:
        async with running_bridge(stack, tmp_path / "bridge.log") as bridge:
            # An answer larger than the gateway's own frame limit still comes through.
            await bridge.write(b'{"jsonrpc":"2.0","id":"list","method":"tools/list"}')
            with anyio.fail_after(ANSWER_WAIT_S):
                listing = await bridge.read()
            assert len(json.dumps(listing)) > MAX_FRAME and listing["result"]["tools"]
            portal_loop = asyncio.get_running_loop()

            @fuzz("stdio")
            @given(batch=batches, last=st.none() | st.none() | st.just("oversize"))
            def one_batch(batch: list[str | bytes], last: str | None) -> None:
                batch = [unique(frame, n) for n, frame in enumerate(batch)]
                sent[0] += len(batch) + 1
                exchange = _stdio_exchange(bridge, batch, last, sent[0])
                asyncio.run_coroutine_threadsafe(exchange, portal_loop).result(2 * ANSWER_WAIT_S)

            await anyio.to_thread.run_sync(one_batch)
            assert bridge.process.returncode is None, "the bridge stopped"

    anyio.run(run)
    healthy(stack, good, sent[0], 200)
