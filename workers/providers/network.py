"""httpcore's network layer, told which call is using each connection so the call's guard can cut it.

Provider connections are kept alive and reused, so a call's socket is not always opened by that
call: the guard (``guard.py``) learns it here instead, whenever a connection is opened, upgraded to
TLS, or written to by the call running in the current thread or greenlet (``current_guard``).
httpcore runs all of a synchronous request in the caller's thread, so "the current call" is the
one that owns the connection at that moment.

A connection the guard cut is never handed out again: it reports itself readable, which is how
httpcore's pool recognises a connection the server has closed, so the pool drops it instead of
reusing it. The guard lets go of a connection before the connection goes back to the pool (see
``transport.py``), so a late cancellation can never cut a connection another call has taken.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterable
from typing import Any

import httpcore

from workers.providers.guard import current_guard, shutdown

SocketOption = tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]


class GuardedStream(httpcore.NetworkStream):
    """One connection's byte stream; :meth:`cut` ends it at once, from any thread."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self._cut = False

    def _claim(self) -> None:
        guard = current_guard()
        if guard is not None:
            guard.attach(self)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._claim()  # every request starts with a write: this is where a reused connection is seen
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        # Wrapping a socket for TLS detaches the plain one: from here on, the TLS stream is the one to cut.
        upgraded = GuardedStream(self._inner.start_tls(ssl_context, server_hostname, timeout))
        upgraded._claim()
        return upgraded

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable" and self._cut:
            return True  # looks closed by the server, so the pool discards it instead of reusing it
        return self._inner.get_extra_info(info)

    @property
    def was_cut(self) -> bool:
        return self._cut

    def cut(self) -> None:
        """End the stream: a read blocked on it in another thread or greenlet wakes up at once."""
        with self._lock:
            self._cut = True
        sock = self._inner.get_extra_info("socket")
        if isinstance(sock, socket.socket):
            shutdown(sock)


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's synchronous backend, its streams wrapped in :class:`GuardedStream`."""

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.NetworkStream:
        stream = GuardedStream(self._inner.connect_tcp(host, port, timeout, local_address, socket_options))
        stream._claim()  # so a TLS handshake blocked on a silent server can be cut as well
        return stream

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[SocketOption] | None = None
    ) -> httpcore.NetworkStream:
        stream = GuardedStream(self._inner.connect_unix_socket(path, timeout, socket_options))
        stream._claim()
        return stream

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)

