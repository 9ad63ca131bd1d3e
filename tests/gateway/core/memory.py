"""In-memory ports and a harness for the protocol core's unit tests: no socket, Redis, Celery or sleep.

In the style of the MCP SDK's in-memory client/server tests: a :class:`Harness` assembles a real
:class:`~gateway.core.assembly.Protocol` over :class:`MemoryCalls` (records submissions; the test
says how each call ends with :meth:`Harness.finish`), :class:`MemoryTaskStore` and the in-memory
thread reader, with a manual clock. A :class:`Conn` is one client connection (a WebSocket-like
stream); :meth:`Harness.post` is one modern Streamable HTTP request on a channel of its own.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from contracts.job import Job, Outcome, ProgressEvent
from contracts.settings import Settings
from gateway.catalog import Catalog
from gateway.core.assembly import Ports, Protocol, assemble
from gateway.core.peer import MODERN, Channel, Peer
from gateway.core.task_views import TaskRecord, TaskState
from gateway.limits import ClientLimits
from tests.support.memory_threads import MemoryThreads

MODERN_VERSION = "2026-07-28"
LEGACY_VERSION = "2025-11-25"
TASKS = "io.modelcontextprotocol/tasks"
KEY = b"unit-test-request-state-key-0123"


class Clock:
    """A clock a test moves by hand (monotonic and wall time together)."""

    def __init__(self, start: float = 1_900_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class MemorySink:
    """A stream's frames, kept for the test to read; ``status`` is the HTTP status of an error."""

    def __init__(self) -> None:
        self.frames: list[str] = []
        self.status: int | None = None
        self.open = True
        self.ended = False
        self.backlog = 0

    def post(self, frame: str, droppable: bool = False, final: bool = False) -> None:
        if self.open:
            self.frames.append(frame)

    def reject(self, http_status: int) -> None:
        self.status = http_status

    def end(self) -> None:
        self.ended = True

    def take(self) -> list[dict[str, Any]]:
        out = [json.loads(frame) for frame in self.frames]
        self.frames.clear()
        return out


class Done:
    """An awaitable that is already done (what a cancel returns, with no event loop needed)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self) -> Any:
        if False:  # a generator with no step: awaiting it returns at once
            yield
        return self.value


class MemoryTaskStore:
    def __init__(self) -> None:
        self.records: dict[str, TaskRecord] = {}
        self.outcomes: dict[str, Outcome] = {}
        self.interims: dict[tuple[str, int], Outcome] = {}
        self.answers: dict[tuple[str, int], dict[str, Any]] = {}
        self.started: set[tuple[str, int]] = set()

    async def state(self, task_id: str) -> TaskState | None:
        record = self.records.get(task_id)
        if record is None:
            return None
        key = (task_id, record.round)
        answered = frozenset(self.answers.get(key, {}))
        return TaskState(record, self.outcomes.get(task_id), self.interims.get(key), answered)

    async def page(self, owner: str, offset: int, size: int) -> tuple[list[TaskState], bool]:
        mine = sorted((r for r in self.records.values() if r.owner == owner), key=lambda r: -r.created_at)
        states = [await self.state(r.task_id) for r in mine[offset : offset + size]]
        return [s for s in states if s is not None], len(mine) > offset + size

    async def answer(self, state: TaskState, responses: dict[str, Any]) -> dict[str, Any] | None:
        key = (state.record.task_id, state.record.round)
        kept = self.answers.setdefault(key, {})
        pending = (state.interim.input_requests or {}) if state.interim is not None else {}
        kept.update({k: v for k, v in responses.items() if k in pending})
        if not all(k in kept for k in pending):
            return None
        following = (state.record.task_id, state.record.round + 1)
        if following in self.started:
            return None
        self.started.add(following)
        return dict(kept)

    async def expire(self, record: TaskRecord, outcome: Outcome) -> Outcome:
        return self.outcomes.setdefault(record.task_id, outcome)


class MemoryCalls:
    """Records what would be queued; ``fail`` makes queueing fail, ``hold`` delays ``done``."""

    def __init__(self, store: MemoryTaskStore, clock: Clock, timeout_s: float = 600.0) -> None:
        self.store = store
        self.clock = clock
        self.timeout_s = timeout_s
        self.jobs: list[Job] = []
        self.headers: list[dict[str, str]] = []
        self.cancelled: list[str] = []
        self.fail: BaseException | None = None
        self.hold = False
        self.held: list[Callable[[], None]] = []
        self.protocol: Protocol | None = None

    def new_job(
        self,
        tool: str,
        arguments: dict[str, Any],
        *,
        client: str,
        correlation_id: str | None,
        capabilities: Mapping[str, Any],
        progress: bool,
        log: bool,
        call_id: str | None = None,
        round: int = 0,
        input_responses: dict[str, Any] | None = None,
        continuation: dict[str, Any] | None = None,
    ) -> Job:
        call_id = call_id or uuid.uuid4().hex
        return Job(
            call_id=call_id,
            tool=tool,
            arguments=dict(arguments),
            reply_to="exai:reply:test",
            deadline=self.clock() + self.timeout_s,
            client=client,
            correlation_id=correlation_id or call_id,
            created_at=self.clock(),
            progress=progress,
            client_capabilities=dict(capabilities),
            input_responses=input_responses,
            continuation=continuation,
            round=round,
            log=log,
        )

    def submit(
        self,
        job: Job,
        record: TaskRecord,
        headers: dict[str, str],
        done: Callable[[BaseException | None], None],
    ) -> None:
        def finish() -> None:
            if self.fail is not None:
                done(self.fail)
                return
            self.store.records[job.call_id] = record
            self.jobs.append(job)
            self.headers.append(headers)
            done(None)

        if self.hold:
            self.held.append(finish)
        else:
            finish()

    def release(self) -> None:
        held, self.held = self.held, []
        for finish in held:
            finish()

    def cancel(self, call_id: str) -> Done:
        self.cancelled.append(call_id)
        outcome = Outcome(
            call_id=call_id,
            text="the call was cancelled by the client",
            is_error=True,
            error_code="CANCELLED",
        )
        stored = self.store.outcomes.setdefault(call_id, outcome)
        if self.protocol is not None:
            self.protocol.inflight.complete(call_id, stored)
        return Done(stored)


class Conn:
    """One client connection (a stream: WebSocket, the stdio bridge's socket)."""

    def __init__(self, harness: Harness, identity: str, era: str | None = None) -> None:
        self.harness = harness
        self.sink = MemorySink()
        self.channel = Channel(Peer(identity=identity, era=era), self.sink)  # type: ignore[arg-type]

    def send(self, message: dict[str, Any] | str) -> list[dict[str, Any]]:
        text = message if isinstance(message, str) else json.dumps(message)
        self.harness.protocol.core.receive(text, self.channel, self.sink)
        return self.sink.take()

    def request(self, msg_id: Any, method: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            body["params"] = params
        return self.send(body)

    def notify(self, method: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return self.send({"jsonrpc": "2.0", "method": method, "params": params or {}})

    def initialize(
        self, capabilities: dict[str, Any] | None = None, version: str = LEGACY_VERSION
    ) -> dict[str, Any]:
        params = {
            "protocolVersion": version,
            "capabilities": capabilities or {},
            "clientInfo": {"name": "t", "version": "1"},
        }
        (answer,) = self.request("init", "initialize", params)
        self.notify("notifications/initialized")
        return answer

    def close(self, *, cancel: bool = False) -> None:
        self.sink.open = False
        self.channel.close(cancel=cancel)


def modern_meta(capabilities: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "io.modelcontextprotocol/protocolVersion": MODERN_VERSION,
        "io.modelcontextprotocol/clientCapabilities": capabilities if capabilities is not None else {},
        "io.modelcontextprotocol/clientInfo": {"name": "unit", "version": "1"},
        **extra,
    }


def modern(
    params: dict[str, Any] | None = None, capabilities: dict[str, Any] | None = None, **meta: Any
) -> dict[str, Any]:
    """Request params carrying the 2026-07-28 envelope."""
    return {**(params or {}), "_meta": modern_meta(capabilities, **meta)}


class Harness:
    def __init__(self, catalog: Catalog | None = None, **settings: Any) -> None:
        self.clock = Clock()
        self.settings = Settings(**settings)
        self.store = MemoryTaskStore()
        self.calls = MemoryCalls(self.store, self.clock, self.settings.exai_call_timeout_s)
        self.threads = MemoryThreads()
        self.limits = ClientLimits.from_settings(self.settings)
        self.protocol = assemble(
            Ports(
                settings=self.settings,
                catalog=catalog or Catalog(),
                calls=self.calls,
                store=self.store,  # type: ignore[arg-type]
                threads=self.threads,
                state_keys=(KEY,),
                limits=self.limits,
                clock=self.clock,
                wall=self.clock,
            )
        )
        self.calls.protocol = self.protocol

    def connect(self, identity: str = "alice", era: str | None = None) -> Conn:
        return Conn(self, identity, era)

    def post(
        self, msg_id: Any, method: str, params: dict[str, Any], identity: str = "alice"
    ) -> tuple[Conn, list[dict[str, Any]]]:
        """One modern request on a channel of its own (a Streamable HTTP POST); the conn stays open."""
        conn = Conn(self, identity, MODERN)
        return conn, conn.request(msg_id, method, params)

    # --- the worker's side ----------------------------------------------------------------------
    def last_job(self) -> Job:
        return self.calls.jobs[-1]

    def progress(self, call_id: str, value: float, **extra: Any) -> None:
        self.protocol.inflight.progress(ProgressEvent(call_id=call_id, progress=value, **extra))

    def finish(self, call_id: str, text: str = "done", **fields: Any) -> Outcome:
        """End ``call_id`` as a worker would: store the outcome, then publish it to the gateway."""
        outcome = Outcome(call_id=call_id, text=text, **fields)
        if outcome.kind == "input_required":
            round_ = self.store.records[call_id].round if call_id in self.store.records else 0
            self.store.interims[(call_id, round_)] = outcome
        else:
            self.store.outcomes.setdefault(call_id, outcome)
        self.protocol.inflight.complete(call_id, outcome)
        return outcome

    def ask(self, call_id: str, requests: dict[str, dict[str, Any]], continuation: Any = None) -> Outcome:
        return self.finish(
            call_id, "asks", kind="input_required", input_requests=requests, continuation=continuation
        )

    def record(self, call_id: str) -> TaskRecord:
        return self.store.records[call_id]

    def age_record(self, call_id: str, **changes: Any) -> None:
        self.store.records[call_id] = replace(self.store.records[call_id], **changes)


def elicit(message: str = "Your name?") -> dict[str, Any]:
    return {
        "method": "elicitation/create",
        "params": {
            "message": message,
            "requestedSchema": {
                "type": "object",
                "properties": {"name": {"type": "string"}},
                "required": ["name"],
            },
        },
    }


def results(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [frame for frame in frames if "method" not in frame]


def notes(frames: list[dict[str, Any]], method: str | None = None) -> list[dict[str, Any]]:
    return [
        f for f in frames if "method" in f and "id" not in f and (method is None or f["method"] == method)
    ]


def _spec(name: str, **hints: Any) -> Any:
    from contracts.tools import ToolSpec

    schema = {"type": "object", "properties": {"text": {"type": "string"}, "n": {"type": "number"}}}
    return ToolSpec(name=name, title="", description=f"the {name} tool", input_schema=schema, **hints)


def tool_catalog() -> Catalog:
    """Tools with every hint the core decides on: quick, slow (a task for a modern client that
    declares the extension), task-only, never-a-task, needing sampling, asking before its task."""
    specs = [
        _spec("quick"),
        _spec("slow", expected_s=60.0),
        _spec("only_task", task_support="required"),
        _spec("sync_only", task_support="forbidden", expected_s=60.0),
        _spec("needs_sampling", client_capabilities={"sampling": {}}),
        _spec("asks_first", task_support="required", input_before_task=True),
    ]
    return Catalog({spec.name: spec for spec in specs})


async def settle() -> None:
    """Let the event loop run the short coroutines the core started (no time passes)."""
    import asyncio

    for _ in range(10):
        await asyncio.sleep(0)
