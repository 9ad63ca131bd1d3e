"""Ending a provider call at once when it is cancelled or its deadline passes, even mid-read.

A read blocked on a silent provider only wakes up when its socket does: closing the httpx response
from another thread does not wake a blocked ``recv``, but shutting the socket down does (end of file),
under threads and gevent alike. The socket is captured through httpx's ``trace`` extension as the
connection is opened, so it is known before the provider sends a single byte: that matters for plain
calls, whose headers only come once the whole answer is generated.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from contracts.errors import DeadlineExceeded
from workers.cancellation import CancelToken

# Socket timeouts round up and the two clocks differ slightly: a read that timed out this close
# to the deadline was cut short by it.
DEADLINE_SLACK_S = 0.05


class CallGuard:
    """Context manager watching one HTTP exchange; pass :meth:`trace` as the request's trace hook."""

    def __init__(self, *, what: str, deadline: float, cancel: CancelToken | None) -> None:
        self.what = what  # "the Kimi call", for messages
        self.deadline = deadline
        self.cancel = cancel
        self.started = time.time()
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._interrupted = False
        self._timer: threading.Timer | None = None
        self._remove_callback: Callable[[], None] | None = None

    def __enter__(self) -> CallGuard:
        self.check()
        if self.cancel is not None:
            self._remove_callback = self.cancel.add_callback(self._interrupt)
        self._timer = threading.Timer(max(0.0, self.remaining()), self._interrupt)
        self._timer.daemon = True
        self._timer.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
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

    def trace(self, event: str, info: dict[str, Any]) -> None:
        # Wrapping a socket for TLS detaches the plain one, so the TLS socket replaces it.
        if event not in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            return
        stream = info.get("return_value")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if not isinstance(sock, socket.socket):
            return
        with self._lock:
            self._socket = sock
            interrupted = self._interrupted
        if interrupted:  # cancelled while connecting
            _shutdown(sock)

    def _interrupt(self) -> None:
        with self._lock:
            self._interrupted = True
            sock = self._socket
        if sock is not None:
            _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    # socket.socket.shutdown, not an SSL socket's override: it ends the TCP stream and leaves the TLS
    # state alone, which the reading thread may be using at this very moment.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
