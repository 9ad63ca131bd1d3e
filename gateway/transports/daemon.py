"""The old daemon's WebSocket protocol, as an adapter into the same call path as MCP.

A connection whose first frame is ``{"op": "hello", ...}`` speaks it: ``hello`` → ``hello_ack``
(close 4003 on a bad token, 4002 when no hello comes within ``EXAI_LEGACY_HELLO_TIMEOUT_S``, 4000
on invalid JSON), then ``list_tools``, ``call_tool`` (or its alias ``tool_call``), ``cancel`` and
``ping``. A call goes through the core's :meth:`~gateway.core.methods.tools.Tools.start` — the
same limits, task records (the same identity can fetch it with the task APIs), metering, deadlines
and heartbeats as an MCP call — with a :class:`DaemonRoute` that writes this protocol's frames:
``call_tool_ack`` at once, ``progress {request_id, name, t}`` for progress and heartbeats, then
``call_tool_res``. Every error names the request it answers (the old daemon's clients hung on
errors without ``request_id``). Frames are read and written by :mod:`gateway.transports.daemon_frames`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request

from contracts.job import Job, Outcome, ProgressEvent
from contracts.version import SERVER_NAME, __version__
from gateway.core.assembly import Protocol
from gateway.core.inflight import Call, Route
from gateway.core.outcomes import QUEUE_UNAVAILABLE
from gateway.limits import LimitExceeded, Slot
from gateway.transports.daemon_frames import (
    CLOSE_INVALID_JSON,
    CLOSE_NO_HELLO,
    CLOSE_UNAUTHORIZED,
    BadFrame,
    Frame,
    ProtocolViolation,
    dump,
    error_frame,
    hello_identity,
    is_hello,
    parse,
    result_frame,
)

log = logging.getLogger(__name__)

__all__ = ["is_hello", "may_say_hello", "opening_frame", "serve"]


def may_say_hello(request: Request) -> bool:
    """A handshake with no credentials and no ``mcp`` subprotocol may still authenticate by hello.

    Old clients send their token in the hello frame, not in the handshake; MCP clients always offer
    the ``mcp`` subprotocol, so they keep getting a plain HTTP 401 for a missing token.
    """
    offered = ",".join(request.headers.get_all("Sec-WebSocket-Protocol"))
    subprotocols = {p.strip() for p in offered.split(",") if p.strip()}
    return (
        "mcp" not in subprotocols and "Authorization" not in request.headers and "token=" not in request.path
    )


async def opening_frame(
    connection: ServerConnection, provisional: bool, timeout: float
) -> str | bytes | None:
    """The connection's first frame; ``None`` when a provisional connection was closed instead.

    A provisional connection (no credentials at the handshake) must say hello within ``timeout``.
    """
    if not provisional:
        return await connection.recv()
    try:
        frame = await asyncio.wait_for(connection.recv(), timeout)
    except TimeoutError:
        await connection.close(CLOSE_NO_HELLO, "hello expected")
        return None
    if is_hello(frame):
        return frame
    try:
        parse(frame)
    except ProtocolViolation as exc:
        await connection.close(exc.code, exc.reason)
        return None
    except BadFrame:
        pass  # JSON, but not a hello: refused as any other first frame
    await connection.close(CLOSE_NO_HELLO, "hello expected (MCP clients: send the token at the handshake)")
    return None


class DaemonRoute(Route):
    """The deferred answer of one old-protocol call."""

    __slots__ = ("conn", "job", "key", "request_id", "started")

    def __init__(self, conn: DaemonConnection, job: Job, request_id: str | int, started: float) -> None:
        super().__init__()
        self.conn = conn
        self.job = job
        self.request_id = request_id
        self.key = str(request_id)
        self.started = started

    def _progress(self, message: str | None) -> None:
        frame: Frame = {
            "op": "progress",
            "request_id": self.request_id,
            "name": self.job.tool,
            "t": round(self.conn.clock() - self.started, 1),
        }
        if message:
            frame["message"] = message
        self.conn.post(frame)

    def progress(self, call: Call, value: float, event: ProgressEvent) -> None:
        if event.log is None:
            self._progress(event.message)

    def heartbeat(self, call: Call, value: float, message: str) -> None:
        self._progress(message)

    def outcome(self, call_id: str, outcome: Outcome) -> None:
        self.conn.settle(self)
        if outcome.kind == "protocol_error":
            text = str((outcome.error or {}).get("message", outcome.text))
            code = "INTERNAL_ERROR" if outcome.error_code == "INTERNAL" else "PROVIDER_ERROR"
            self.conn.post(error_frame(self.request_id, code, text, op="call_tool_res"))
        elif outcome.error_code == "QUEUE_UNAVAILABLE":
            retry = self.conn.protocol.tools.settings.exai_progress_interval_s
            frame = error_frame(
                self.request_id, "OVER_CAPACITY", QUEUE_UNAVAILABLE, op="call_tool_res", retry_after=retry
            )
            self.conn.post(frame)
        else:
            self.conn.post(result_frame(self.request_id, outcome))


class DaemonConnection:
    """One old-protocol connection after its hello: frames in, frames out through one outbox."""

    def __init__(
        self, protocol: Protocol, identity: str, session_id: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.protocol = protocol
        self.identity = identity
        self.session_id = session_id
        self.clock = clock
        self.outbox: asyncio.Queue[str] = asyncio.Queue()
        self.calls: dict[str, tuple[DaemonRoute, Slot]] = {}  # by str(request_id), with its outstanding slot
        self.closed = False

    def post(self, frame: Frame) -> None:
        if not self.closed:
            self.outbox.put_nowait(dump(frame))

    def settle(self, route: DaemonRoute) -> None:
        entry = self.calls.get(route.key)
        if entry is not None and entry[0] is route:
            del self.calls[route.key]
            entry[1].release()

    def handle(self, raw: str | bytes) -> None:
        """One frame after the hello; ProtocolViolation means: close the connection. Every other
        failure is answered (this protocol's error boundary): one frame, one answer."""
        try:
            frame = parse(raw)
        except BadFrame as exc:
            op = "call_tool_res" if exc.op in ("call_tool", "tool_call") else "error"
            self.post(error_frame(exc.request_id, "INVALID_REQUEST", exc.reason, op=op))
            return
        try:
            self._dispatch(frame)
        except Exception:
            log.exception("error handling old-protocol op %r", str(frame.get("op"))[:64])
            op = "call_tool_res" if frame.get("op") in ("call_tool", "tool_call") else "error"
            message = "internal error; the gateway's log has details"
            self.post(error_frame(frame.get("request_id"), "INTERNAL_ERROR", message, op=op))

    def _dispatch(self, frame: Frame) -> None:
        op, request_id = frame.get("op"), frame.get("request_id")
        if op == "list_tools":
            catalog = self.protocol.tools.catalog
            tools = [
                {"name": s.name, "description": s.description, "inputSchema": s.input_schema}
                for s in catalog.specs.values()
            ]
            self.post({"op": "list_tools_res", "request_id": request_id, "tools": tools})
        elif op in ("call_tool", "tool_call"):
            self._call(frame)
        elif op == "cancel":
            self._cancel(request_id)
        elif op == "ping":
            self.post({"op": "pong", "request_id": request_id})
        elif op == "hello":
            self.post(error_frame(request_id, "INVALID_REQUEST", "hello was already received"))
        else:
            self.post(error_frame(request_id, "INVALID_REQUEST", f"unknown op {str(op)[:64]!r}"))

    def _fail(self, request_id: Any, code: str, message: str, **extra: Any) -> None:
        self.post(error_frame(request_id, code, message, op="call_tool_res", **extra))

    def _call(self, frame: Frame) -> None:
        request_id = frame.get("request_id")
        if not isinstance(request_id, str | int) or isinstance(request_id, bool):
            self._fail(None, "INVALID_REQUEST", "request_id is required")
            return
        tool = frame.get("tool")
        name = frame.get("name")
        if name is None and isinstance(tool, dict):
            name = tool.get("name")  # the tool_call alias nests the name (and maybe the arguments)
        arguments = frame.get("arguments")
        if arguments is None and isinstance(tool, dict):
            arguments = tool.get("arguments")
        arguments = {} if arguments is None else arguments
        tools = self.protocol.tools
        if str(request_id) in self.calls:
            self._fail(
                request_id,
                "INVALID_REQUEST",
                f"request_id {request_id!r} is already used by a call in flight",
            )
            return
        if not isinstance(name, str):
            self._fail(request_id, "INVALID_REQUEST", "name must be a string")
            return
        spec = tools.catalog.lookup(name)  # strips the old _EXAI-WS style suffixes
        if spec is None:
            self._fail(request_id, "TOOL_NOT_FOUND", f"unknown tool {name[:128]!r}")
            return
        if not isinstance(arguments, dict):
            self._fail(request_id, "INVALID_REQUEST", "arguments must be an object")
            return
        problems = tools.catalog.argument_errors(spec.name, arguments)
        if problems:
            message = f"invalid arguments for {spec.name}: " + "; ".join(problems)
            self._fail(request_id, "INVALID_REQUEST", message, details={"problems": problems})
            return
        slots: list[Slot] = []
        try:  # the same outstanding-request and per-client call limits as MCP sessions
            slots.append(tools.limits.admit(self.identity, len(self.calls)))
            slots.append(tools.limits.acquire(self.identity))
        except LimitExceeded as exc:
            for slot in slots:
                slot.release()
            self._fail(request_id, "OVER_CAPACITY", exc.message, retry_after=exc.retry_after_s)
            return
        outstanding, slot = slots
        job = tools.calls.new_job(
            spec.name,
            arguments,
            client=self.identity,
            correlation_id=None,
            capabilities={},
            progress=True,
            log=False,
        )
        self.post(
            {
                "op": "call_tool_ack",
                "request_id": request_id,
                "accepted": True,
                "timeout": tools.settings.exai_call_timeout_s,
                "name": spec.name,
            }
        )
        route = DaemonRoute(self, job, request_id, self.clock())
        self.calls[route.key] = (route, outstanding)
        record = tools.record(job, self.identity, tools.ttl_ms(None), "daemon", keep_arguments=False)

        def queued(failure: BaseException | None) -> None:
            if failure is not None:
                log.warning("could not queue %s: %s", job.call_id, failure)
                unavailable = Outcome(
                    call_id=job.call_id, text=QUEUE_UNAVAILABLE, is_error=True, error_code="QUEUE_UNAVAILABLE"
                )
                tools.inflight.complete(job.call_id, unavailable)

        tools.start(job, record, slot, route, None, queued)

    def _cancel(self, request_id: Any) -> None:
        entry = self.calls.get(str(request_id))
        if entry is None:
            self.post(error_frame(request_id, "INVALID_REQUEST", "no call in flight with this request_id"))
            return
        route = entry[0]
        self.protocol.inflight.detach(route.job.call_id, route)
        self.settle(route)
        self.post(error_frame(request_id, "CANCELLED", "the call was cancelled", op="call_tool_res"))
        self.protocol.tools.calls.cancel(route.job.call_id)

    def close(self) -> None:
        """The client left: stop answering, but let its calls finish and keep their results (and
        hold their slots until then: reconnecting frees nothing)."""
        self.closed = True
        for route, outstanding in list(self.calls.values()):
            self.protocol.inflight.detach(route.job.call_id, route)
            outstanding.release()
        self.calls.clear()


async def serve(
    connection: ServerConnection,
    hello_raw: str | bytes,
    protocol: Protocol,
    identify: Callable[[str], str | None],
    handshake_identity: str | None,
) -> None:
    """Speak the old protocol on ``connection`` from its hello to its end."""
    try:
        hello = parse(hello_raw)
    except BadFrame as exc:
        error = {"code": "INVALID_REQUEST", "message": exc.reason}
        await connection.send(dump({"op": "hello_ack", "ok": False, "error": error}))
        await connection.close(CLOSE_INVALID_JSON, "invalid hello")
        return
    identity = hello_identity(hello, handshake_identity, identify)
    if identity is None:
        log.warning("refused an old-protocol hello: missing or invalid token")
        refusal = {
            "op": "hello_ack",
            "ok": False,
            "error": {"code": "UNAUTHORIZED", "message": "missing or invalid token"},
        }
        await connection.send(dump(refusal))
        await connection.close(CLOSE_UNAUTHORIZED, "unauthorized")
        return
    wanted = hello.get("session_id")
    session_id = wanted if isinstance(wanted, str) and 0 < len(wanted) <= 128 else uuid.uuid4().hex
    conn = DaemonConnection(protocol, identity, session_id)
    conn.post(
        {
            "op": "hello_ack",
            "ok": True,
            "session_id": session_id,
            "server": {"name": SERVER_NAME, "version": __version__},
        }
    )

    async def write_forever() -> None:
        while True:
            await connection.send(await conn.outbox.get())

    writer = asyncio.create_task(write_forever())
    try:
        async for frame in connection:
            try:
                conn.handle(frame)
            except ProtocolViolation as exc:
                await connection.close(exc.code, exc.reason)
                break
    except ConnectionClosed:
        pass
    finally:
        writer.cancel()
        conn.close()
