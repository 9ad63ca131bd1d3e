"""MCP dispatch for one session, without sockets or a queue (no call here reaches the broker)."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any, cast

import pytest

from contracts.job import Job
from contracts.settings import Settings
from contracts.tools import SPECS
from gateway.calls import CallBroker
from gateway.session import LATEST_PROTOCOL, Session
from gateway.tasks import TaskService
from gateway.tool_catalog import ToolCatalog


async def _noop_send(_: str) -> None:
    return None


def make_session(page_size: int = 100) -> Session:
    return Session(cast(CallBroker, None), ToolCatalog(page_size=page_size), "tester", _noop_send)


def exchange(session: Session, *frames: Any) -> list[dict[str, Any]]:
    for frame in frames:
        session.handle(frame if isinstance(frame, str | bytes) else json.dumps(frame))
    out = []
    while not session._outbox.empty():
        out.append(json.loads(session._outbox.get_nowait()))
    return out


def request(msg_id: Any, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
    if params is not None:
        body["params"] = params
    return body


INIT = request(
    0,
    "initialize",
    {"protocolVersion": LATEST_PROTOCOL, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
)


@pytest.fixture
def session() -> Session:
    # Session builds an asyncio.Queue, which wants a current event loop on 3.11 only lazily.
    return make_session()


def test_initialize_answers_with_the_requested_supported_version(session: Session) -> None:
    """A client asking for 2025-06-18 gets 2025-06-18."""
    (answer,) = exchange(session, request(0, "initialize", {"protocolVersion": "2025-06-18"}))
    assert answer["id"] == 0
    assert answer["result"]["protocolVersion"] == "2025-06-18"
    assert answer["result"]["capabilities"]["tools"] == {"listChanged": False}
    assert answer["result"]["serverInfo"]["name"] == "exai-mcp"


def test_initialize_with_an_unknown_version_offers_the_latest(session: Session) -> None:
    """The spec lets the client decide what to do with our newest version."""
    (answer,) = exchange(session, request(1, "initialize", {"protocolVersion": "1999-01-01"}))
    assert answer["result"]["protocolVersion"] == LATEST_PROTOCOL


def test_initialize_without_a_version_is_invalid_params(session: Session) -> None:
    """protocolVersion is required."""
    (answer,) = exchange(session, request(1, "initialize", {}))
    assert answer["error"]["code"] == -32602


def test_requests_before_initialize_are_refused_but_ping_works(session: Session) -> None:
    """Only ping and the discover probe are answered before initialize."""
    ping, listing, discover = exchange(
        session, request(1, "ping"), request(2, "tools/list"), request(3, "server/discover")
    )
    assert ping == {"jsonrpc": "2.0", "id": 1, "result": {}}
    assert listing["error"]["code"] == -32600
    assert discover["error"]["code"] == -32601


def test_server_discover_is_method_not_found_even_after_initialize(session: Session) -> None:
    """The 2026 clients' probe must fail cleanly so they fall back to initialize."""
    answers = exchange(session, INIT, request(1, "server/discover"))
    assert answers[1]["error"]["code"] == -32601


def test_unknown_method_is_method_not_found_and_unknown_notification_is_ignored(session: Session) -> None:
    """Unknown requests get -32601; unknown notifications get nothing."""
    answers = exchange(
        session, INIT, {"jsonrpc": "2.0", "method": "notifications/whatever"}, request("x", "resources/list")
    )
    assert len(answers) == 2
    assert answers[1] == {
        "jsonrpc": "2.0",
        "id": "x",
        "error": {"code": -32601, "message": "Method not found: resources/list"},
    }


def test_tools_list_pages_with_a_cursor_until_every_tool_is_seen() -> None:
    """With one tool per page, following nextCursor visits every tool once."""
    session = make_session(page_size=1)
    exchange(session, INIT)
    seen: list[str] = []
    cursor = None
    for i in range(len(SPECS) + 1):
        params = {"cursor": cursor} if cursor else {}
        (answer,) = exchange(session, request(i + 10, "tools/list", params))
        seen += [tool["name"] for tool in answer["result"]["tools"]]
        cursor = answer["result"].get("nextCursor")
        if cursor is None:
            break
    assert seen == list(SPECS)


def test_tools_list_rejects_a_forged_cursor(session: Session) -> None:
    """A cursor we did not issue is invalid params."""
    answers = exchange(session, INIT, request(1, "tools/list", {"cursor": "bm9wZQ=="}))
    assert answers[1]["error"]["code"] == -32602


def test_listed_tools_carry_schemas_and_annotations(session: Session) -> None:
    """Every tool has an object input schema, an output schema and annotations."""
    answers = exchange(session, INIT, request(1, "tools/list"))
    for tool in answers[1]["result"]["tools"]:
        assert tool["inputSchema"]["type"] == "object"
        assert tool["outputSchema"]["type"] == "object"
        assert "readOnlyHint" in tool["annotations"]


def test_unknown_tool_is_invalid_params(session: Session) -> None:
    """Calling a tool that does not exist is a protocol error, -32602."""
    answers = exchange(session, INIT, request(1, "tools/call", {"name": "nope", "arguments": {}}))
    assert answers[1]["error"]["code"] == -32602
    assert "nope" in answers[1]["error"]["message"]


def test_bad_arguments_are_an_error_result_naming_the_problem(session: Session) -> None:
    """Schema violations come back as isError results, before anything is queued."""
    answers = exchange(
        session, INIT, request(1, "tools/call", {"name": "chat", "arguments": {"temperature": 7}})
    )
    result = answers[1]["result"]
    assert result["isError"] is True
    text = result["content"][0]["text"]
    assert "'prompt' is a required property" in text
    assert "temperature" in text


def test_arguments_that_are_not_an_object_are_an_error_result(session: Session) -> None:
    """arguments must be an object."""
    answers = exchange(session, INIT, request(1, "tools/call", {"name": "chat", "arguments": [1]}))
    assert answers[1]["result"]["isError"] is True


def test_set_level_accepts_known_levels_and_rejects_others(session: Session) -> None:
    """logging/setLevel validates the level."""
    answers = exchange(
        session,
        INIT,
        request(1, "logging/setLevel", {"level": "debug"}),
        request(2, "logging/setLevel", {"level": "loud"}),
    )
    assert answers[1]["result"] == {}
    assert answers[2]["error"]["code"] == -32602
    assert session.log_level == "debug"


def test_malformed_frames_are_answered_and_the_session_goes_on(session: Session) -> None:
    """Garbage gets an error answer; the next good request still works."""
    answers = exchange(session, "{oops", b"\x00\x01", "[]", request(9, "ping"))
    assert [a.get("error", {}).get("code") for a in answers] == [-32700, -32700, -32600, None]
    assert answers[3]["result"] == {}


def test_cancel_for_an_unknown_request_is_ignored(session: Session) -> None:
    """Cancelling something not in flight sends nothing."""
    answers = exchange(
        session, INIT, {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 99}}
    )
    assert len(answers) == 1


def test_session_works_inside_a_running_loop() -> None:
    """The session is used from the gateway's event loop."""

    async def main() -> list[dict[str, Any]]:
        return exchange(make_session(), INIT)

    assert asyncio.run(main())[0]["id"] == 0


# --- the one-answer guarantee, limits and hostile input, with a stand-in task store ---------------
class FakeBroker:
    """Just what a Session asks of its broker before anything is queued."""

    def __init__(self, **settings: Any) -> None:
        self.settings = Settings(**settings)
        self.detached: list[str] = []

    def new_job(
        self, tool: str, arguments: dict[str, Any], *, client: str, correlation_id: str | None
    ) -> Job:
        call_id = f"call-{tool}"
        return Job(
            call_id=call_id,
            tool=tool,
            arguments=arguments,
            deadline=1e12,
            client=client,
            correlation_id=correlation_id or call_id,
        )

    def detach(self, call_id: str) -> None:
        self.detached.append(call_id)

    def cancel_soon(self, call_id: str) -> None:
        return None


class FakeTasks:
    """A task store whose steps a test controls: they wait for ``release`` or raise ``fail``."""

    def __init__(self, fail: BaseException | None = None) -> None:
        self.fail = fail
        self.release = asyncio.Event()
        self.recorded: list[str] = []
        self.queued: list[str] = []

    def ttl_ms(self, requested: Any) -> int:
        return 1000

    async def start(self, job: Job, owner: str, ttl_ms: int, on_progress: Any, slot: Any) -> Any:
        if self.fail is not None:
            raise self.fail
        self.recorded.append(job.call_id)
        await asyncio.sleep(0.01)  # between recording and queueing, where a drop used to cut in
        self.queued.append(job.call_id)
        await self.release.wait()
        raise ConnectionError("the test's queue is closed")

    async def get(self, task_id: Any, owner: str) -> dict[str, Any]:
        if self.fail is not None:
            raise self.fail
        return {"taskId": task_id}

    async def result(self, task_id: Any, owner: str) -> dict[str, Any]:
        await self.release.wait()
        return {"content": [], "isError": False}


def session_with(tasks: FakeTasks, **settings: Any) -> Session:
    broker = FakeBroker(**settings)
    catalog = ToolCatalog()
    return Session(cast(CallBroker, broker), catalog, "tester", _noop_send, cast(TaskService, tasks))


async def answers_until(session: Session, count: int) -> list[dict[str, Any]]:
    """Frames the session posts, until ``count`` have come (bounded)."""
    out: list[dict[str, Any]] = []
    async with asyncio.timeout(5):
        while len(out) < count:
            out.append(json.loads(await session._outbox.get()))
    return out


@pytest.mark.anyio
async def test_a_tasks_request_whose_handler_raises_gets_exactly_one_internal_error() -> None:
    """An unexpected exception in tasks/get is a -32603 answer with its id, and the session goes on."""
    session = session_with(FakeTasks(fail=KeyError("surprise")))
    exchange(session, INIT)
    session.handle(json.dumps(request("g", "tasks/get", {"taskId": "t"})))
    (answer,) = await answers_until(session, 1)
    assert answer["id"] == "g" and answer["error"]["code"] == -32603
    assert "tasks/get" in answer["error"]["message"]
    await asyncio.sleep(0.05)
    assert session._outbox.empty() and len(session.calls) == 0
    assert exchange(session, request(2, "ping"))[0]["result"] == {}


@pytest.mark.anyio
async def test_a_call_whose_queueing_raises_unexpectedly_gets_exactly_one_internal_error() -> None:
    """Plain and task-augmented calls alike: one -32603 answer each, no silent drop."""
    session = session_with(FakeTasks(fail=RuntimeError("surprise")))
    exchange(session, INIT)
    call = {"name": "chat", "arguments": {"prompt": "hi"}}
    session.handle(json.dumps(request(1, "tools/call", call)))
    session.handle(json.dumps(request(2, "tools/call", {**call, "task": {}})))
    answers = sorted(await answers_until(session, 2), key=lambda a: a["id"])
    assert [(a["id"], a["error"]["code"]) for a in answers] == [(1, -32603), (2, -32603)]
    await asyncio.sleep(0.05)
    assert session._outbox.empty()


def test_a_lone_surrogate_in_a_tool_name_or_task_id_is_refused_with_the_request_id(session: Session) -> None:
    """The request gets one -32602 naming where; the next request on the session still works."""
    exchange(session, INIT)
    answers = exchange(
        session,
        '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"\\ud800","arguments":{}}}',
        '{"jsonrpc":"2.0","id":2,"method":"tasks/result","params":{"taskId":"ab\\udfffc"}}',
        '{"jsonrpc":"2.0","id":"\\ud800","method":"ping"}',
        request(3, "ping"),
    )
    assert [(a["id"], a.get("error", {}).get("code")) for a in answers] == [
        (1, -32602),
        (2, -32602),
        (None, -32600),
        (3, None),
    ]
    assert "params.name" in answers[0]["error"]["message"] and "taskId" in answers[1]["error"]["message"]


def test_nan_or_infinity_in_arguments_is_refused_by_validation_naming_the_argument(session: Session) -> None:
    """A plain call gets an isError result naming it; a task-augmented one, -32602 naming it."""
    exchange(session, INIT)
    call = '{"name":"chat","arguments":{"prompt":"hi","temperature":NaN}'
    plain, as_task = exchange(
        session,
        '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":' + call + "}}",
        '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":' + call + ',"task":{}}}',
    )
    assert plain["result"]["isError"] is True
    assert "temperature: NaN is not a number JSON allows" in plain["result"]["content"][0]["text"]
    assert as_task["error"]["code"] == -32602 and "temperature: NaN" in as_task["error"]["message"]


def test_a_non_finite_progress_token_or_task_ttl_is_invalid_params(session: Session) -> None:
    """They would be echoed in every progress notification or kept as a ttl: -32602 naming them."""
    exchange(session, INIT)
    token, ttl = exchange(
        session,
        '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"version","arguments":{},'
        '"_meta":{"progressToken":Infinity}}}',
        '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"version","arguments":{},'
        '"task":{"ttl":NaN}}}',
    )
    assert token["error"]["code"] == -32602 and "_meta.progressToken" in token["error"]["message"]
    assert ttl["error"]["code"] == -32602 and "task.ttl" in ttl["error"]["message"]


@pytest.mark.anyio
async def test_requests_past_the_session_cap_are_refused_with_a_retry_after_naming_the_limit() -> None:
    """Two tasks/result waits fill a cap of two; the third is -32000; ping is answered at once anyway;
    when the waits end there is room again."""
    tasks = FakeTasks()
    session = session_with(tasks, exai_session_max_pending=2)
    exchange(session, INIT)
    for n in (1, 2):
        session.handle(json.dumps(request(n, "tasks/result", {"taskId": "t"})))
    refused, pong = exchange(session, request(3, "tasks/result", {"taskId": "t"}), request(4, "ping"))
    assert refused["id"] == 3 and refused["error"]["code"] == -32000
    assert (
        refused["error"]["data"]["limit"] == "session_pending" and refused["error"]["data"]["retryAfter"] > 0
    )
    assert pong["result"] == {}
    tasks.release.set()
    assert {a["id"] for a in await answers_until(session, 2)} == {1, 2}
    await asyncio.sleep(0.01)
    session.handle(json.dumps(request(5, "tasks/result", {"taskId": "t"})))
    assert (await answers_until(session, 1))[0]["id"] == 5


@pytest.mark.anyio
async def test_a_call_accepted_just_before_its_client_left_is_still_recorded_and_queued() -> None:
    """Recording and queueing happen together or not at all: closing the session between them does
    not stop the second step (a recorded call that is never queued stayed `working` for 600 s)."""
    tasks = FakeTasks()
    session = session_with(tasks)
    exchange(session, INIT)
    session.handle(json.dumps(request(1, "tools/call", {"name": "chat", "arguments": {"prompt": "hi"}})))
    async with asyncio.timeout(5):
        while not tasks.recorded:
            await asyncio.sleep(0)
    await session.close()  # the client dropped right after sending its call
    async with asyncio.timeout(5):
        while not tasks.queued:
            await asyncio.sleep(0.005)
    assert tasks.queued == tasks.recorded
    tasks.release.set()
    await asyncio.sleep(0.01)
    assert session._outbox.empty()  # nobody is left to answer


@pytest.mark.anyio
async def test_a_client_leaving_stops_its_wait_but_never_the_call_it_waits_for() -> None:
    """Closing the session cancels the request's wait, not the call's shared future (which holds the
    client's in-flight slot until the outcome), and the call is detached so its progress stops."""
    call: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    class Queued(FakeTasks):
        async def start(self, job: Job, owner: str, ttl_ms: int, on_progress: Any, slot: Any) -> Any:
            self.queued.append(job.call_id)
            return None, SimpleNamespace(future=call)

    tasks = Queued()
    session = session_with(tasks)
    exchange(session, INIT)
    session.handle(json.dumps(request(1, "tools/call", {"name": "chat", "arguments": {"prompt": "hi"}})))
    async with asyncio.timeout(5):
        while not tasks.queued:
            await asyncio.sleep(0)
    await asyncio.sleep(0.01)  # the request now waits on the call
    await session.close()
    await asyncio.sleep(0.01)
    assert not call.done()
    assert cast(FakeBroker, session.broker).detached == tasks.queued
