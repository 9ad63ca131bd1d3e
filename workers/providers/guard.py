"""Ending a provider call at once when it is cancelled or its deadline passes, even mid-read.

A read blocked on a silent provider only wakes up when its socket does: closing the httpx response
from another thread does not wake a blocked ``recv``, but shutting the socket down does (end of file),
under threads and gevent alike. The guard learns its call's connection before the provider sends a
single byte (that matters for plain calls, whose headers only come once the whole answer is
generated): the provider clients' network layer (``network.py``) attaches each connection to the
guard of the call using it, new or reused; a plain httpx client can pass :meth:`CallGuard.trace`
as its ``trace`` extension instead, which sees connections as they are opened.
"""

from __future__ import annotations

import contextlib
import contextvars
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol

from contracts.errors import DeadlineExceeded
from workers.cancellation import CancelToken

# Socket timeouts round up and the two clocks differ slightly: a read that timed out this close
# to the deadline was cut short by it.
DEADLINE_SLACK_S = 0.05


class Cuttable(Protocol):
    """A connection the guard can end from another thread or greenlet."""

    def cut(self) -> None: ...


_current: contextvars.ContextVar[CallGuard | None] = contextvars.ContextVar("exai_call_guard", default=None)


def current_guard() -> CallGuard | None:
    """The guard of the call running in this thread or greenlet, if any."""
    return _current.get()


class CallGuard:
    """Context manager watching one HTTP exchange: enter it around the request (see the module)."""

    def __init__(self, *, what: str, deadline: float, cancel: CancelToken | None) -> None:
        self.what = what  # "the Kimi call", for messages
        self.deadline = deadline
        self.cancel = cancel
        self.started = time.time()
        self._lock = threading.Lock()
        self._connection: Cuttable | None = None
        self._interrupted = False
        self._released = False
        self._token: contextvars.Token[CallGuard | None] | None = None
        self._timer: threading.Timer | None = None
        self._remove_callback: Callable[[], None] | None = None

    def __enter__(self) -> CallGuard:
        self.check()
        if self.cancel is not None:
            self._remove_callback = self.cancel.add_callback(self._interrupt)
        self._timer = threading.Timer(max(0.0, self.remaining()), self._interrupt)
        self._timer.daemon = True
        self._timer.start()
        self._token = _current.set(self)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._token is not None:
            _current.reset(self._token)
        self.release()
        if self._timer is not None:
            self._timer.cancel()
        if self._remove_callback is not None:
            self._remove_callback()

    def remaining(self) -> float:
        return self.deadline - time.time()

    def clamp(self, timeout: float) -> float:
        """``timeout`` cut to the time left, so no single wait outlives the deadline."""
        return max(0.001, min(timeout, self.remaining()))

    def check(self) -> None:
        """Raise CallCancelled or DeadlineExceeded if the call must stop; used between chunks and
        after a network error (which the guard itself may have caused)."""
        if self.cancel is not None:
            self.cancel.raise_if_set()
        if self.remaining() <= DEADLINE_SLACK_S:
            raise DeadlineExceeded(
                f"{self.what} did not finish before its deadline "
                f"({time.time() - self.started:.1f}s after it started); the call was abandoned"
            )

    def attach(self, connection: Cuttable) -> None:
        """The call now sends or waits on ``connection``: cut it if the call must stop (at once if it
        already must). Does nothing once the call has called :meth:`release`."""
        with self._lock:
            if self._released:
                return
            self._connection = connection
            interrupted = self._interrupted
        if interrupted:  # cancelled while connecting
            connection.cut()

    def release(self) -> None:
        """The call is done with its connection (it may go back to the pool for other calls): from
        now on nothing the guard does touches it."""
        with self._lock:
            self._released = True
            self._connection = None

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpx's ``trace`` extension: attaches each connection as it is opened (not a reused one)."""
        # Wrapping a socket for TLS detaches the plain one, so the TLS socket replaces it.
        if event not in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            return
        stream = info.get("return_value")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            self.attach(_Socket(sock))

    def _interrupt(self) -> None:
        with self._lock:
            self._interrupted = True
            connection = self._connection
        if connection is not None:
            connection.cut()


class _Socket:
    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def cut(self) -> None:
        shutdown(self._sock)

def shutdown(sock: socket.socket) -> None:
    # socket.socket.shutdown, not an SSL socket's override: it ends the TCP stream and leaves the TLS
    # state alone, which the reading thread may be using at this very moment.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
