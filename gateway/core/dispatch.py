"""The protocol core: text in → decode → era and context → handler → answer out, for both eras.

:meth:`Core.receive` takes one frame from any transport with the connection's :class:`Channel` and
the :class:`Sink` its answer goes to. Handlers are plain functions of ``(ctx, params)`` returning a
result (answered at once), an awaitable (a short coroutine on a port, answered when it ends) or
:data:`DEFERRED` (the handler registered the request as waiting: a call, a wait, a subscription).
This module is the one error boundary: a :class:`~gateway.core.errors.ProtocolError` raised
anywhere becomes a JSON-RPC error (with its HTTP status for Streamable HTTP) here, and anything
else is logged once and answered ``-32603``. :class:`Replies` is the one place frames are encoded:
modern results get ``resultType``, the ``serverInfo`` stamp and cache hints.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from contracts.events import MCP_METHODS
from gateway.core import codec, eras
from gateway.core.codec import DecodeError, Message, Notification, Request, RequestId, Response
from gateway.core.discovery import Offer
from gateway.core.errors import (
    Internal,
    InvalidRequest,
    LimitReached,
    MethodNotFound,
    ProtocolError,
)
from gateway.core.peer import Channel, RequestContext, Sink
from gateway.core.ports import NullTelemetry, Telemetry
from gateway.limits import ClientLimits, LimitExceeded

log = logging.getLogger(__name__)

DEFERRED: Any = object()  # a handler's "the answer comes later"
Handler = Callable[[RequestContext, dict[str, Any]], Any]
ResponseHandler = Callable[[Channel, Response], None]
NotificationHandler = Callable[[Channel, Notification], None]


@dataclass(frozen=True)
class Encoded:
    """A result already encoded as JSON text (a list page, the same for every caller)."""

    text: str


@dataclass(frozen=True)
class Method:
    handler: Handler
    legacy: bool = True
    modern: bool = True


class Replies:
    """The one place answers are encoded and sent: exactly one per request."""

    def __init__(
        self, offer: Offer, telemetry: Telemetry | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.offer = offer
        self.telemetry: Telemetry = telemetry or NullTelemetry()
        self.clock = clock
        self._server_info = offer.server_info

    def result(self, ctx: RequestContext, result: Mapping[str, Any] | Encoded) -> None:
        if self._settle(ctx, "ok"):
            return
        if isinstance(result, Encoded):
            ctx.sink.post(codec.result_from_text(ctx.request_id, result.text), final=True)
            return
        ctx.sink.post(codec.result(ctx.request_id, self.stamp(ctx, result)), final=True)

    def error(self, ctx: RequestContext, exc: ProtocolError) -> None:
        if self._settle(ctx, "error"):
            return
        ctx.sink.reject(exc.http_status)
        ctx.sink.post(
            codec.error(ctx.request_id, exc.code_for(ctx.modern), exc.message, exc.data), final=True
        )

    def refuse(self, sink: Sink, request_id: RequestId | None, exc: ProtocolError, method: str = "") -> None:
        """Answer a request that never got a context (its envelope or era was refused)."""
        sink.reject(exc.http_status)
        sink.post(codec.error(request_id, exc.code, exc.message, exc.data), final=True)
        if method:
            self.telemetry.request(method_label(method), "error", 0.0)

    def stamp(self, ctx: RequestContext, result: Mapping[str, Any]) -> dict[str, Any]:
        """A result as the request's era wants it (modern: resultType, serverInfo, cache hints)."""
        out = dict(result)
        if not ctx.modern:
            return out
        kind = out.setdefault("resultType", "complete")
        if kind == "complete":
            hints = self.offer.cache_hints(ctx.method)
            if hints is not None:
                for key, value in hints.items():
                    out.setdefault(key, value)
        meta = out.get("_meta")
        out["_meta"] = (
            {**meta, codec.SERVER_INFO: self._server_info}
            if isinstance(meta, dict)
            else {codec.SERVER_INFO: self._server_info}
        )
        return out

    def _settle(self, ctx: RequestContext, status: str) -> bool:
        """Mark ``ctx`` answered; True when it already was (the second answer is dropped) or when
        nobody listens any more (cancelled or abandoned)."""
        if ctx.closed:
            return True
        if ctx.answered:
            log.warning("dropped a second answer to %s %r", ctx.method, ctx.request_id)
            return True
        ctx.answered = True
        ctx.settle()
        self.telemetry.request(method_label(ctx.method), status, self.clock() - ctx.started)
        return False


def method_label(method: str) -> str:
    return method if method in MCP_METHODS else "other"


class _AsyncAnswer:
    """A request answered by a short coroutine (a Redis round trip): cancelled with it."""

    __slots__ = ("ctx", "task")

    def __init__(self, ctx: RequestContext, task: asyncio.Future[Any]) -> None:
        self.ctx = ctx
        self.task = task

    def cancel(self) -> None:
        self.ctx.drop()
        self.task.cancel()  # its done callback sees the cancellation and answers nothing

    abandon = cancel


class Core:
    """Decode, classify, dispatch, answer: the same path for every transport and both eras."""

    def __init__(
        self,
        methods: Mapping[str, Method],
        replies: Replies,
        limits: ClientLimits,
        *,
        on_response: ResponseHandler | None = None,
        on_notification: Mapping[str, NotificationHandler] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.methods = dict(methods)
        self.replies = replies
        self.limits = limits
        self.on_response = on_response
        self.notifications = dict(on_notification or {})
        self.clock = clock

    # --- frames in ----------------------------------------------------------------------------
    def receive(
        self,
        frame: str | bytes,
        channel: Channel,
        sink: Sink,
        header_check: eras.HeaderCheck | None = None,
    ) -> None:
        """Handle one frame. Never raises: a bad frame is answered, the connection goes on."""
        try:
            message = codec.decode(frame)
        except DecodeError as exc:
            sink.reject(400)
            sink.post(codec.error(exc.id, exc.code, exc.message), final=True)
            return
        self.dispatch(message, channel, sink, header_check)

    def dispatch(
        self,
        message: Message,
        channel: Channel,
        sink: Sink,
        header_check: eras.HeaderCheck | None = None,
    ) -> None:
        """Handle one decoded message. Never raises."""
        if isinstance(message, Request):
            self._request(message, channel, sink, header_check)
        elif isinstance(message, Notification):
            self._notification(message, channel)
        elif self.on_response is not None:
            try:
                self.on_response(channel, message)
            except Exception:
                log.exception("error handling a client's answer to a server request")

    def _request(
        self, request: Request, channel: Channel, sink: Sink, header_check: eras.HeaderCheck | None
    ) -> None:
        try:
            ctx = eras.classify(request, channel, sink, header_check, self.clock)
        except ProtocolError as exc:
            self.replies.refuse(sink, request.id, exc, request.method)
            return
        except Exception:
            log.exception("error classifying %s", request.method[:100])
            self.replies.refuse(sink, request.id, _internal(request.method), request.method)
            return
        try:
            if request.id in channel.pending:
                raise InvalidRequest(
                    f"Invalid Request: id {request.id!r} is already used by a request in flight"
                )
            method = self.methods.get(request.method)
            if method is None or not (method.modern if ctx.modern else method.legacy):
                raise MethodNotFound(
                    f"Method not found: {request.method[:100]}", {"method": request.method[:100]}
                )
            out = method.handler(ctx, request.params)
        except ProtocolError as exc:
            self.replies.error(ctx, exc)
            return
        except Exception:  # the error boundary: one failure, one answer
            log.exception("error handling %s", request.method[:100])
            if not ctx.answered:
                if ctx.entry is not None:
                    ctx.entry.abandon()  # whatever it started runs on; this request is answered now
                    ctx.closed = False
                self.replies.error(ctx, _internal(request.method))
            return
        if out is DEFERRED:
            return
        if inspect.isawaitable(out):
            self._later(ctx, out)
            return
        self.replies.result(ctx, out)

    def _later(self, ctx: RequestContext, work: Awaitable[Any]) -> None:
        try:
            outstanding = self.limits.admit(ctx.identity, len(ctx.channel.pending))
        except LimitExceeded as exc:
            if inspect.iscoroutine(work):
                work.close()
            log.warning("refused %s of %s: %s", ctx.method, ctx.identity, exc.limit)
            self.replies.error(ctx, LimitReached(exc.message, exc.retry_after_s, exc.limit))
            return
        task = asyncio.ensure_future(work)
        ctx.wait(_AsyncAnswer(ctx, task), outstanding)
        task.add_done_callback(lambda done: self._finished(ctx, done))

    def _finished(self, ctx: RequestContext, done: asyncio.Future[Any]) -> None:
        if done.cancelled():
            ctx.settle()
            return
        exc = done.exception()
        if isinstance(exc, ProtocolError):
            self.replies.error(ctx, exc)
        elif exc is not None:
            log.error("error handling %s", ctx.method[:100], exc_info=exc)
            if not ctx.answered:
                self.replies.error(ctx, _internal(ctx.method))
        else:
            out = done.result()
            if out is not DEFERRED:
                self.replies.result(ctx, out)

    def _notification(self, note: Notification, channel: Channel) -> None:
        if note.method == "notifications/cancelled":
            request_id = note.params.get("requestId")
            if isinstance(request_id, str | int) and not isinstance(request_id, bool):
                entry = channel.pending.pop(request_id, None)
                if entry is not None:  # unknown or already answered: nothing to do
                    try:
                        entry.cancel()
                    except Exception:
                        log.exception("error cancelling request %r", request_id)
            return
        handler = self.notifications.get(note.method)
        if handler is not None:
            try:
                handler(channel, note)
            except Exception:
                log.exception("error handling %s", note.method[:100])


def _internal(method: str) -> Internal:
    return Internal(f"Internal error while handling {method[:100]}; the gateway's log has details")
