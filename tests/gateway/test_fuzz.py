"""Hostile input, property-based: thousands of malformed frames against a real gateway.

Each example opens a connection, initializes, sends a handful of generated frames (broken JSON,
wrong types, huge or null ids, unknown methods, deep nesting, binary frames, and as the last frame
sometimes an oversize frame or invalid UTF-8), then checks that every request carrying a valid id
got exactly one answer with that id, that every other bad frame got its one error, and that the
connection was only ever closed for the right reason with the right code. Meanwhile a well-behaved
client on the same gateway keeps calling; it must see no failure at all.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from tests.support.stack import Stack, running_stack

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(600),
    pytest.mark.filterwarnings("ignore:Generating overly large repr:hypothesis.errors.HypothesisWarning"),
]

MAX_FRAME = 65536  # a small EXAI_WS_MAX_FRAME_BYTES keeps oversize frames cheap
EXAMPLES = 300
ANSWER_WAIT_S = 15.0

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

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
ids = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(max_size=30),
    st.just("x" * 5000),
    st.none(),
    st.booleans(),
    st.floats(allow_nan=False),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
params = st.one_of(
    st.none(),
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "name": st.sampled_from(["version", "chat", "nope", ""]) | json_values,
            "arguments": json_values,
            "taskId": json_values,
            "cursor": json_values,
            "level": st.sampled_from(["debug", "loud"]) | json_values,
            "protocolVersion": st.sampled_from(["2025-11-25", "1999-01-01"]) | json_values,
            "task": json_values,
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
    method = draw(st.sampled_from(METHODS) | json_values)
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


def nesting(text: str) -> int:
    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


frames = st.one_of(
    messages().map(json.dumps),
    st.binary(max_size=64),
    st.text(max_size=64),
    json_values.map(json.dumps),
    depths.map(deep),
    depths.map(lambda n: '{"jsonrpc":"2.0","id":1,"method":"ping","params":' + deep(n) + "}"),
)
closing = st.sampled_from(["oversize", "bad-utf8"])


@dataclass
class Expectation:
    """What the gateway owes one frame: an answer for ``answer_id``, or one error without an id."""

    answer_id: Any = None
    anonymous_error: bool = False
    nothing: bool = False


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def expectation(frame: str | bytes) -> Expectation:
    """The JSON-RPC rules for one frame (the same ones gateway/jsonrpc.py implements)."""
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
    if not isinstance(method, str) or not method:
        return Expectation(answer_id=msg_id, anonymous_error=msg_id is None)
    raw_params = data.get("params", {})
    if raw_params is not None and not isinstance(raw_params, dict):
        return Expectation(answer_id=msg_id, anonymous_error=msg_id is None)
    return Expectation(answer_id=msg_id) if msg_id is not None else Expectation(nothing=True)


def unique(frame: str | bytes, n: int) -> str | bytes:
    """Give a request a fresh id of the same kind, so answers can be told apart."""
    if isinstance(frame, bytes) or nesting(frame) > PARSE_DEPTH_LIMIT:
        return frame
    try:
        data = json.loads(frame)
    except (ValueError, RecursionError):
        return frame
    if isinstance(data, dict) and _valid_id(data.get("id")):
        data["id"] = f"{n}:{data['id']}" if isinstance(data["id"], str) else data["id"] * 1000 + n
        params = data.get("params")
        if isinstance(params, dict) and "requestId" in params:
            params["requestId"] = f"nc-{params['requestId']}"  # never cancels a fuzz call
        return json.dumps(data)
    return frame


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
                await ws.send(
                    json.dumps(
                        {
                            "jsonrpc": "2.0",
                            "id": "init",
                            "method": "initialize",
                            "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {}},
                        }
                    )
                )
                await ws.recv()
                n = 0
                while not self.stop.is_set():
                    n += 1
                    call = {"name": "version", "arguments": {}}
                    method, params = ("tools/call", call) if n % 5 == 0 else ("ping", {})
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


async def _exchange(url: str, batch: list[str | bytes], last: str | None) -> None:
    expected = [expectation(frame) for frame in batch]
    async with connect(url, subprotocols=[Subprotocol("mcp")], max_size=None) as ws:
        init = {
            "jsonrpc": "2.0",
            "id": "init",
            "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {}},
        }
        await ws.send(json.dumps(init))
        await ws.recv()
        for frame in batch:
            await ws.send(frame)
        if last == "oversize":
            await ws.send("x" * (MAX_FRAME + 1))
        elif last == "bad-utf8":
            await ws.send(b'{"jsonrpc":"2.0","id":"u","method":"ping","params":{"k":"\xff\xfe"}}', text=True)
        want_ids = [e.answer_id for e in expected if e.answer_id is not None]
        want_anonymous = sum(1 for e in expected if e.anonymous_error)
        answers: dict[Any, int] = {}
        anonymous = 0
        close_code = None
        try:
            with anyio.fail_after(ANSWER_WAIT_S):
                while (
                    any(answers.get(i, 0) < want_ids.count(i) for i in want_ids)
                    or anonymous < want_anonymous
                    or last is not None
                ):
                    message = json.loads(await ws.recv())
                    if "method" in message:
                        continue  # notifications (progress, tasks/status)
                    if message.get("id") is None:
                        assert "error" in message, message
                        anonymous += 1
                    else:
                        answers[message["id"]] = answers.get(message["id"], 0) + 1
        except ConnectionClosed as closed:
            close_code = closed.rcvd.code if closed.rcvd else None
        assert set(answers) <= set(want_ids)  # never an answer to something not asked
        if last is None:
            assert close_code is None
            for i in set(want_ids):
                assert answers.get(i, 0) == want_ids.count(i), (i, answers.get(i, 0))
            assert anonymous == want_anonymous
        else:
            # Closed for the last frame with its code; answers still queued then may be cut off.
            assert close_code == {"oversize": 1009, "bad-utf8": 1007}[last]
            for i in set(want_ids):
                assert answers.get(i, 0) <= want_ids.count(i), (i, answers.get(i, 0))
            assert anonymous <= want_anonymous


def test_thousands_of_malformed_frames_never_hurt_the_gateway_or_another_client(stack: Stack) -> None:
    """Every frame is answered by the rules or closes with the right code; a good client never notices."""
    good = GoodClient(stack.authed_url)
    good.thread.start()
    sent = [0]

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(batch=st.lists(frames, min_size=1, max_size=12), last=st.none() | st.none() | closing)
    def one_connection(batch: list[str | bytes], last: str | None) -> None:
        batch = [unique(frame, n) for n, frame in enumerate(batch)]
        sent[0] += len(batch) + (last is not None)
        anyio.run(_exchange, stack.authed_url, batch, last)

    try:
        one_connection()
    finally:
        good.stop.set()
        good.thread.join(ANSWER_WAIT_S)
    assert stack.gateway is not None and stack.gateway.process is not None
    assert stack.gateway.process.poll() is None, "the gateway died"
    assert sent[0] >= 1000
    assert good.failures == []
    assert good.ok > 50
    assert good.slowest < 10.0
