"""The old daemon's WebSocket protocol, for its existing clients, on the same port and Celery path.

A connection whose first frame is ``{"op": "hello", ...}`` speaks it: ``hello`` → ``hello_ack``
(close 4003 on a bad token, 4002 when no hello comes within ``EXAI_LEGACY_HELLO_TIMEOUT_S``, 4000 on
invalid JSON), then ``list_tools`` and ``call_tool`` (or its alias ``tool_call``), answered with
``call_tool_ack``, ``progress`` heartbeats and ``call_tool_res``. Every error names the request it
answers: the old daemon sent errors without ``request_id`` and its clients hung waiting. Frames are
read and written by :mod:`gateway.legacy_frames`; an unexpected failure is answered with
``INTERNAL_ERROR``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from celery.exceptions import CeleryError
from kombu.exceptions import KombuError
from redis.exceptions import RedisError
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request

from contracts.errors import ExaiError
from contracts.job import Job
from contracts.logs import correlated
from contracts.version import SERVER_NAME, __version__
from gateway.calls import CallBroker, PendingCall, begin
from gateway.inflight import InFlight, Reply
from gateway.legacy_frames import (
    CLOSE_INVALID_JSON,
    CLOSE_NO_HELLO,
    CLOSE_UNAUTHORIZED,
    ERROR_CODES,
    BadFrame,
    Frame,
    ProtocolViolation,
    error_frame,
    hello_identity,
    parse,
    result_frame,
)
from gateway.legacy_frames import dump as _dump
from gateway.legacy_frames import is_hello as is_hello  # the gateway asks which protocol a frame opens
from gateway.limits import LimitExceeded, Slot, shared_limits
from gateway.tool_catalog import ToolCatalog

log = logging.getLogger(__name__)


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


class LegacySession:
    """One old-protocol connection after its hello: frames in, frames out through one outbox."""

    def __init__(
        self,
        broker: CallBroker,
        catalog: ToolCatalog,
        identity: str,
        send: Callable[[str], Awaitable[None]],
        session_id: str | None = None,
    ) -> None:
        self.broker = broker
        self.catalog = catalog
        self.identity = identity
        self.session_id = session_id or uuid.uuid4().hex
        self._send = send
        self._outbox: asyncio.Queue[str] = asyncio.Queue()
        self.limits = shared_limits(broker)
        self.calls = InFlight(self.limits, identity, _internal_error)  # keyed by str(request_id)
        self.closed = False  # the client left: nothing more is sent

    def post(self, frame: Frame) -> None:
        self._post_text(_dump(frame))

    def _post_text(self, text: str) -> None:
        if not self.closed:
            self._outbox.put_nowait(text)

    async def write_forever(self) -> None:
        while True:
            await self._send(await self._outbox.get())

    def ack_hello(self) -> None:
        self.post(
            {
                "op": "hello_ack",
                "ok": True,
                "session_id": self.session_id,
                "server": {"name": SERVER_NAME, "version": __version__},
            }
        )

    def handle(self, raw: str | bytes) -> None:
        """Handle one frame after the hello; ProtocolViolation means: close the connection.

        Every other failure is answered (the protocol's error boundary): one frame, one answer.
        """
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
        op = frame.get("op")
        request_id = frame.get("request_id")
        if op == "list_tools":
            tools = [
                {"name": s.name, "description": s.description, "inputSchema": s.input_schema}
                for s in self.catalog.specs.values()
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

    def _call(self, frame: Frame) -> None:
        request_id = frame.get("request_id")
        if not isinstance(request_id, str | int) or isinstance(request_id, bool):
            self.post(error_frame(None, "INVALID_REQUEST", "request_id is required", op="call_tool_res"))
            return
        key = str(request_id)
        tool = frame.get("tool")
        name = frame.get("name")
        if name is None and isinstance(tool, dict):
            name = tool.get("name")  # the tool_call alias nests the name (and maybe the arguments)
        arguments = frame.get("arguments")
        if arguments is None and isinstance(tool, dict):
            arguments = tool.get("arguments")
        arguments = {} if arguments is None else arguments
        fail = functools.partial(self._fail, request_id)
        if key in self.calls:
            fail("INVALID_REQUEST", f"request_id {request_id!r} is already used by a call in flight")
            return
        if not isinstance(name, str):
            fail("INVALID_REQUEST", "name must be a string")
            return
        spec = self.catalog.lookup(name)  # strips the old _EXAI-WS style suffixes
        if spec is None:
            fail("TOOL_NOT_FOUND", f"unknown tool {name[:128]!r}")
            return
        if not isinstance(arguments, dict):
            fail("INVALID_REQUEST", "arguments must be an object")
            return
        problems = self.catalog.argument_errors(spec.name, arguments)
        if problems:
            fail(
                "INVALID_REQUEST",
                f"invalid arguments for {spec.name}: " + "; ".join(problems),
                details={"problems": problems},
            )
            return
        slots: list[Slot] = []
        try:  # the same outstanding-request and per-client call limits as MCP sessions
            slots.append(self.calls.admit())
            slots.append(self.limits.acquire(self.identity))
        except LimitExceeded as exc:
            for slot in slots:
                slot.release()
            fail("OVER_CAPACITY", exc.message, retry_after=exc.retry_after_s)
            return
        outstanding, slot = slots
        job = self.broker.new_job(spec.name, arguments, client=self.identity, correlation_id=None)
        self.post(
            {
                "op": "call_tool_ack",
                "request_id": request_id,
                "accepted": True,
                "timeout": self.broker.settings.exai_call_timeout_s,
                "name": spec.name,
            }
        )
        # Accepted: queued whatever happens to the connection; the slot is held until the call ends.
        queued = begin(self._queue(job, request_id, slot))
        reply = Reply(self._post_text, "call_tool", key, request_id)
        self.calls.spawn(reply, lambda r: self._run(r, job, queued), outstanding, job.call_id)

    async def _queue(self, job: Job, request_id: str | int, slot: Slot) -> PendingCall:
        with correlated(job.correlation_id):
            return await self.broker.submit(job, self._progress_sender(request_id, job), slot)

    def _progress_sender(self, request_id: str | int, job: Job) -> Callable[..., None]:
        started = time.monotonic()

        def on_progress(
            value: float, total: float | None, message: str | None, text: str | None = None
        ) -> None:
            frame: Frame = {
                "op": "progress",
                "request_id": request_id,
                "name": job.tool,
                "t": round(time.monotonic() - started, 1),
            }
            if message:
                frame["message"] = message
            self.post(frame)

        return on_progress

    async def _run(self, reply: Reply, job: Job, queued: asyncio.Task[PendingCall]) -> None:
        request_id = reply.request
        with correlated(job.correlation_id):
            log.info("old-protocol call_tool %s as %s", job.tool, job.call_id)
            try:
                pending = await asyncio.shield(queued)
                # Shielded: this wait may be cancelled (the client left), the call and its slot not.
                outcome = await asyncio.shield(pending.future)
                reply(_dump(result_frame(request_id, outcome)))
            except ExaiError as exc:
                code = ERROR_CODES.get(exc.code, exc.code)
                reply(_dump(error_frame(request_id, code, exc.message, op="call_tool_res")))
            except (RedisError, KombuError, CeleryError, OSError) as exc:
                log.warning("could not queue %s: %s", job.call_id, exc)
                reply(
                    _dump(
                        error_frame(
                            request_id,
                            "OVER_CAPACITY",
                            "the task queue is unavailable (Redis cannot be reached); retry in a few seconds",
                            op="call_tool_res",
                            retry_after=self.broker.settings.exai_progress_interval_s,
                        )
                    )
                )

    def _fail(self, request_id: Any, code: str, message: str, **extra: Any) -> None:
        self.post(error_frame(request_id, code, message, op="call_tool_res", **extra))

    def _cancel(self, request_id: Any) -> None:
        found, call_id = self.calls.cancel(str(request_id))
        if not found:
            self.post(error_frame(request_id, "INVALID_REQUEST", "no call in flight with this request_id"))
            return
        self.post(error_frame(request_id, "CANCELLED", "the call was cancelled", op="call_tool_res"))
        if call_id is not None:
            self.broker.cancel_soon(call_id)

    async def close(self) -> None:
        """The client left: stop waiting, but let its calls finish and keep their results (and
        hold their slots until then: reconnecting frees nothing)."""
        self.closed = True
        for call_id in self.calls.cancel_all():
            self.broker.detach(call_id)


def _internal_error(reply: Reply) -> str:
    message = "internal error; the gateway's log has details"
    return _dump(error_frame(reply.request, "INTERNAL_ERROR", message, op="call_tool_res"))


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


async def serve_legacy(
    connection: ServerConnection,
    hello_raw: str | bytes,
    broker: CallBroker,
    catalog: ToolCatalog,
    identify: Callable[[str], str | None],
    handshake_identity: str | None,
) -> None:
    """Speak the old protocol on ``connection`` from its hello to its end."""
    try:
        hello = parse(hello_raw)
    except BadFrame as exc:
        error = {"code": "INVALID_REQUEST", "message": exc.reason}
        await connection.send(_dump({"op": "hello_ack", "ok": False, "error": error}))
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
        await connection.send(_dump(refusal))
        await connection.close(CLOSE_UNAUTHORIZED, "unauthorized")
        return
    wanted = hello.get("session_id")
    session_id = wanted if isinstance(wanted, str) and 0 < len(wanted) <= 128 else None
    session = LegacySession(broker, catalog, identity, connection.send, session_id=session_id)
    session.ack_hello()
    writer = asyncio.create_task(session.write_forever())
    try:
        async for frame in connection:
            try:
                session.handle(frame)
            except ProtocolViolation as exc:
                await connection.close(exc.code, exc.reason)
                break
    except ConnectionClosed:
        pass
    finally:
        writer.cancel()
        await session.close()
