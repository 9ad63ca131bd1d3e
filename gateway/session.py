"""One MCP session (one WebSocket connection): lifecycle, dispatch, and its calls in flight.

Frames are handled as they arrive; a ``tools/call`` runs in its own asyncio task, so many calls
share one connection and answers go out as they finish. Everything sent goes through one outbox so
frames keep their order; progress is dropped before answers when a client reads too slowly.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from celery.exceptions import CeleryError
from kombu.exceptions import KombuError
from redis.exceptions import RedisError

from contracts.errors import ExaiError
from contracts.logs import correlated
from contracts.version import SERVER_NAME, __version__
from gateway import jsonrpc
from gateway.calls import CallBroker
from gateway.jsonrpc import Notification, Request, RequestId, Response
from gateway.tool_catalog import InvalidCursor, ToolCatalog

log = logging.getLogger(__name__)

LATEST_PROTOCOL = "2025-11-25"
SUPPORTED_PROTOCOLS = ("2025-11-25", "2025-06-18")
LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
# Progress frames are dropped (answers never are) once this many frames wait for a slow reader.
OUTBOX_SOFT_LIMIT = 1000
CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
META_CORRELATION = "io.exai/correlation_id"
META_CALL = "io.exai/call_id"

INSTRUCTIONS = (
    "Tools backed by Kimi (Moonshot) and GLM (Zhipu) models. Long calls report progress when you "
    "send a progressToken, and can be cancelled with notifications/cancelled."
)


class Session:
    def __init__(
        self, broker: CallBroker, catalog: ToolCatalog, identity: str, send: Callable[[str], Awaitable[None]]
    ) -> None:
        self.broker = broker
        self.catalog = catalog
        self.identity = identity
        self._send = send
        self._outbox: asyncio.Queue[str] = asyncio.Queue()
        self.initialized = False
        self.protocol_version: str | None = None
        self.log_level = "info"
        self.calls: dict[RequestId, tuple[asyncio.Task[None], str | None]] = {}
        self._background: set[asyncio.Task[None]] = set()

    # --- output ---------------------------------------------------------------------------
    def post(self, frame: str, *, droppable: bool = False) -> None:
        if droppable and self._outbox.qsize() >= OUTBOX_SOFT_LIMIT:
            return
        self._outbox.put_nowait(frame)

    async def write_forever(self) -> None:
        while True:
            frame = await self._outbox.get()
            await self._send(frame)

    def log_to_client(self, level: str, data: Any) -> None:
        if LOG_LEVELS.index(level) >= LOG_LEVELS.index(self.log_level):
            self.post(
                jsonrpc.notification(
                    "notifications/message", {"level": level, "logger": "exai", "data": data}
                ),
                droppable=True,
            )

    # --- input ----------------------------------------------------------------------------
    def handle(self, frame: str | bytes) -> None:
        """Handle one frame. Never raises: a bad frame is answered, it does not end the session."""
        if isinstance(frame, bytes):
            self.post(
                jsonrpc.error(
                    None,
                    jsonrpc.PARSE_ERROR,
                    "Parse error: binary frames are not supported; send JSON-RPC as text",
                )
            )
            return
        try:
            message = jsonrpc.decode(frame)
        except jsonrpc.DecodeError as exc:
            self.post(jsonrpc.error(exc.id, exc.code, exc.message))
            return
        try:
            if isinstance(message, Request):
                self._request(message)
            elif isinstance(message, Notification):
                self._notification(message)
            elif isinstance(message, Response):
                pass  # answers to our pings; nothing waits on them
        except Exception:  # the protocol error boundary: one failure, one answer
            log.exception("error handling %s", getattr(message, "method", "a response"))
            if isinstance(message, Request):
                self.post(jsonrpc.error(message.id, jsonrpc.INTERNAL_ERROR, "Internal error"))

    def _request(self, req: Request) -> None:
        method = req.method
        if method == "ping":
            self.post(jsonrpc.result(req.id, {}))
        elif method == "server/discover":
            # The 2026 clients probe with this and fall back to initialize on any error.
            self.post(jsonrpc.error(req.id, jsonrpc.METHOD_NOT_FOUND, "Method not found: server/discover"))
        elif method == "initialize":
            self._initialize(req)
        elif not self.initialized:
            self.post(
                jsonrpc.error(
                    req.id,
                    jsonrpc.INVALID_REQUEST,
                    "Invalid Request: the session is not initialized; send initialize first",
                )
            )
        elif method == "tools/list":
            self._tools_list(req)
        elif method == "tools/call":
            self._tools_call(req)
        elif method == "logging/setLevel":
            self._set_level(req)
        else:
            self.post(jsonrpc.error(req.id, jsonrpc.METHOD_NOT_FOUND, f"Method not found: {method[:100]}"))

    def _notification(self, note: Notification) -> None:
        if note.method == "notifications/initialized":
            self.initialized = self.protocol_version is not None
        elif note.method == "notifications/cancelled":
            request_id = note.params.get("requestId")
            if isinstance(request_id, str | int) and not isinstance(request_id, bool):
                self._cancel(request_id)

    # --- methods --------------------------------------------------------------------------
    def _initialize(self, req: Request) -> None:
        requested = req.params.get("protocolVersion")
        if not isinstance(requested, str):
            self.post(
                jsonrpc.error(
                    req.id,
                    jsonrpc.INVALID_PARAMS,
                    "Invalid params: protocolVersion must be a string",
                    {"supported": list(SUPPORTED_PROTOCOLS)},
                )
            )
            return
        # An unknown version gets our newest; the client decides whether it can speak it.
        self.protocol_version = requested if requested in SUPPORTED_PROTOCOLS else LATEST_PROTOCOL
        # Clients may send requests right after the answer, before notifications/initialized.
        self.initialized = True
        self.post(
            jsonrpc.result(
                req.id,
                {
                    "protocolVersion": self.protocol_version,
                    "capabilities": {"tools": {"listChanged": False}, "logging": {}},
                    "serverInfo": {
                        "name": SERVER_NAME,
                        "title": "EX-AI MCP (Kimi & GLM)",
                        "version": __version__,
                    },
                    "instructions": INSTRUCTIONS,
                },
            )
        )

    def _tools_list(self, req: Request) -> None:
        cursor = req.params.get("cursor")
        if cursor is not None and not isinstance(cursor, str):
            self.post(
                jsonrpc.error(req.id, jsonrpc.INVALID_PARAMS, "Invalid params: cursor must be a string")
            )
            return
        try:
            self.post(jsonrpc.result(req.id, self.catalog.page(cursor)))
        except InvalidCursor as exc:
            self.post(jsonrpc.error(req.id, jsonrpc.INVALID_PARAMS, f"Invalid params: {exc}"))

    def _set_level(self, req: Request) -> None:
        level = req.params.get("level")
        if level not in LOG_LEVELS:
            self.post(
                jsonrpc.error(
                    req.id,
                    jsonrpc.INVALID_PARAMS,
                    f"Invalid params: level must be one of {', '.join(LOG_LEVELS)}",
                )
            )
            return
        self.log_level = str(level)
        self.post(jsonrpc.result(req.id, {}))

    def _tools_call(self, req: Request) -> None:
        if req.id in self.calls:
            self.post(
                jsonrpc.error(
                    req.id,
                    jsonrpc.INVALID_REQUEST,
                    f"Invalid Request: id {req.id!r} is already used by a call in flight",
                )
            )
            return
        name = req.params.get("name")
        if not isinstance(name, str):
            self.post(jsonrpc.error(req.id, jsonrpc.INVALID_PARAMS, "Invalid params: name must be a string"))
            return
        spec = self.catalog.lookup(name)
        if spec is None:
            self.post(jsonrpc.error(req.id, jsonrpc.INVALID_PARAMS, f"Unknown tool: {name[:128]}"))
            return
        arguments = req.params.get("arguments")
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            self.post(jsonrpc.result(req.id, _error_result("Invalid arguments: arguments must be an object")))
            return
        problems = self.catalog.argument_errors(spec.name, arguments)
        if problems:
            self.post(
                jsonrpc.result(
                    req.id, _error_result(f"Invalid arguments for {spec.name}: " + "; ".join(problems))
                )
            )
            return
        meta = req.params.get("_meta")
        meta = meta if isinstance(meta, dict) else {}
        token = meta.get("progressToken")
        if isinstance(token, bool) or not isinstance(token, str | int):
            token = None
        supplied = meta.get(META_CORRELATION)
        correlation = supplied if isinstance(supplied, str) and CORRELATION_ID.match(supplied) else None
        job = self.broker.new_job(spec.name, arguments, client=self.identity, correlation_id=correlation)
        task = asyncio.create_task(self._run_call(req.id, job, token), name=f"call-{job.call_id}")
        self.calls[req.id] = (task, job.call_id)

    async def _run_call(self, req_id: RequestId, job: Any, token: str | int | None) -> None:
        with correlated(job.correlation_id):
            on_progress = None
            if token is not None:

                def on_progress(value: float, total: float | None, message: str | None) -> None:
                    params: dict[str, Any] = {"progressToken": token, "progress": value}
                    if total is not None:
                        params["total"] = total
                    if message:
                        params["message"] = message
                    self.post(jsonrpc.notification("notifications/progress", params), droppable=True)

            log.info("tools/call %s as %s", job.tool, job.call_id)
            try:
                pending = await self.broker.submit(job, on_progress)
                outcome = await pending.future
                result = {
                    "content": [{"type": "text", "text": outcome.text}],
                    "isError": outcome.is_error,
                    "_meta": {META_CORRELATION: job.correlation_id, META_CALL: job.call_id},
                }
                if outcome.structured is not None:
                    result["structuredContent"] = outcome.structured
                if outcome.is_error:
                    self.log_to_client("warning", {"call": job.call_id, "error": outcome.error_code})
                self.post(jsonrpc.result(req_id, result))
            except asyncio.CancelledError:
                raise
            except ExaiError as exc:
                self.post(jsonrpc.result(req_id, _error_result(exc.message, job.correlation_id)))
            except (RedisError, KombuError, CeleryError, OSError) as exc:
                log.warning("could not queue %s: %s", job.call_id, exc)
                self.broker.forget(job.call_id)
                self.post(
                    jsonrpc.result(
                        req_id,
                        _error_result(
                            "the task queue is unavailable (Redis cannot be reached); retry in a few seconds",
                            job.correlation_id,
                        ),
                    )
                )
            finally:
                self.calls.pop(req_id, None)

    def _cancel(self, req_id: RequestId) -> None:
        entry = self.calls.pop(req_id, None)
        if entry is None:
            return  # unknown or already answered: nothing to do
        task, call_id = entry
        task.cancel()
        if call_id is not None:
            log.info("client cancelled call %s", call_id)
            task = asyncio.create_task(self._cancel_remote(call_id))
            self._background.add(task)  # keep a reference until it is done
            task.add_done_callback(self._background.discard)

    async def _cancel_remote(self, call_id: str) -> None:
        try:
            await self.broker.cancel(call_id)
        except Exception as exc:
            log.warning("could not cancel %s: %s", call_id, exc)

    async def close(self) -> None:
        """The client left: stop waiting, but let its calls finish and keep their results."""
        for task, call_id in list(self.calls.values()):
            task.cancel()
            if call_id is not None:
                self.broker.forget(call_id)
        self.calls.clear()


def _error_result(message: str, correlation_id: str | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"content": [{"type": "text", "text": message}], "isError": True}
    if correlation_id:
        result["_meta"] = {META_CORRELATION: correlation_id}
    return result
