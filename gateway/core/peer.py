"""Who is on the other end: the per-connection :class:`Peer` and the per-request :class:`RequestContext`.

A ``Peer`` is everything a connection (a WebSocket, the stdio bridge's socket, a legacy Streamable
HTTP session) needs between two requests: identity, era, negotiated version, the client's
capabilities and info, its ``logging/setLevel`` level, and whether it initialized. It is plain JSON,
so a session store can keep it anywhere (in-process today, Redis later). A modern request has no
session: its ``Peer`` is built from its own envelope and thrown away.

A :class:`Channel` is the process-local side of one connection: where its frames go (a
:class:`Sink`), the requests it waits to answer, and the server→client requests it has asked. It
is never serialised: it belongs to the process holding the socket or stream.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from gateway.core.codec import RequestId
from gateway.limits import Slot

Era = Literal["legacy", "modern"]
LEGACY: Era = "legacy"
MODERN: Era = "modern"
DEFAULT_LOG_LEVEL = "info"  # a legacy session's level until it sends logging/setLevel


@dataclass
class Peer:
    """One client connection's state between requests (JSON-serialisable)."""

    identity: str
    era: Era | None = None  # decided by the first request of a stream; None until then
    version: str | None = None
    capabilities: dict[str, Any] = field(default_factory=dict)
    client_info: dict[str, Any] | None = None
    log_level: str = DEFAULT_LOG_LEVEL
    initialized: bool = False
    created_at: float = 0.0
    last_used: float = 0.0
    used: bool = False  # a request came after initialize (an unused HTTP session ends sooner)

    def dump(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def load(cls, raw: str | bytes) -> Peer:
        return cls(**json.loads(raw))


class Sink(Protocol):
    """Where a connection's (or one HTTP request's) frames go; written by the transport."""

    def post(self, frame: str, droppable: bool = False, final: bool = False) -> None:
        """Queue a frame; ``droppable`` frames (progress) may be dropped for a slow reader;
        ``final``: it is the answer of the request this sink was opened for."""

    def reject(self, http_status: int) -> None:
        """The answer about to be posted is an error; Streamable HTTP sends it with this status."""

    def end(self) -> None:
        """End this stream once what is queued is written (HTTP: the response; a socket: nothing)."""

    @property
    def backlog(self) -> int:
        """Frames queued and not yet written (a slow reader's)."""

    @property
    def open(self) -> bool:
        """False once nothing more can be delivered (the socket or stream closed)."""


class Pending(Protocol):
    """A request a channel still owes an answer to (a call, a wait, a subscription)."""

    def cancel(self) -> None:
        """The client cancelled it: stop (a call is cancelled on the workers), answer nothing."""

    def abandon(self) -> None:
        """Its connection went away: stop answering; a call runs on and keeps its result."""


class Channel:
    """The process-local side of one connection or legacy session."""

    def __init__(self, peer: Peer, sink: Sink | None) -> None:
        self.peer = peer
        self.sink = sink  # unsolicited notifications: the socket, a session's GET stream, or none
        self.pending: dict[RequestId, Pending] = {}
        self.asked: dict[str, Any] = {}  # server→client requests in flight, by our id (server_requests)
        # Run when it closes (a task's status watch, removed again when the task ends).
        self.closers: set[Callable[[], None]] = set()
        self.closed = False

    def close(self, *, cancel: bool) -> None:
        """The connection ended: every request it waits on is cancelled (modern HTTP: closing the
        stream is the cancellation) or abandoned (everywhere else: calls run on)."""
        self.closed = True
        pending, self.pending = list(self.pending.values()), {}
        for entry in pending:
            if cancel:
                entry.cancel()
            else:
                entry.abandon()
        self.asked.clear()
        closers, self.closers = self.closers, set()
        for close in closers:
            close()


@dataclass(slots=True)
class RequestContext:
    """One request as a handler sees it: who, which era and version, what the client can do."""

    peer: Peer
    channel: Channel
    sink: Sink  # where this request's answer and its notifications go
    request_id: RequestId
    method: str
    modern: bool
    version: str
    capabilities: Mapping[str, Any]
    log_level: str | None  # modern: the request's own (None: no notifications/message at all)
    progress_token: str | int | None = None
    trace: dict[str, str] | None = None
    correlation_id: str | None = None
    prefer_task: bool = False
    started: float = 0.0
    answered: bool = False
    closed: bool = False  # cancelled or abandoned: whatever comes later is not sent
    entry: Pending | None = None  # its place in channel.pending while it waits
    outstanding: Slot | None = None  # its place among the client's outstanding requests

    @property
    def identity(self) -> str:
        return self.peer.identity

    def settle(self) -> None:
        """The request is answered, cancelled or abandoned: it leaves the channel's pending
        requests and frees its place among the client's outstanding ones."""
        if self.entry is not None and self.channel.pending.get(self.request_id) is self.entry:
            del self.channel.pending[self.request_id]
        self.entry = None
        if self.outstanding is not None:
            self.outstanding.release()
            self.outstanding = None

    def drop(self) -> None:
        """The client cancelled the request or left: settle it; a late answer is not sent."""
        self.closed = True
        self.settle()

    def wait(self, entry: Pending, outstanding: Slot | None = None) -> None:
        """Register the request as waiting for a later answer (``entry`` cancels or abandons it)."""
        self.entry = entry
        self.channel.pending[self.request_id] = entry
        if outstanding is not None:
            self.outstanding = outstanding

    def current_log_level(self) -> str | None:
        """The level notifications/message are sent at or above, now (legacy: the session's)."""
        return self.log_level if self.modern else self.peer.log_level
