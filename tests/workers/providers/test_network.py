"""Guarded connections: a cut one wakes its reader and is never taken for reuse."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import httpcore
import pytest

from workers.providers.guard import CallGuard
from workers.providers.network import GuardedBackend, GuardedStream


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP server socket that accepts and then stays silent."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server


def _connect(listener: socket.socket) -> tuple[GuardedStream, socket.socket]:
    stream = GuardedBackend().connect_tcp("127.0.0.1", listener.getsockname()[1], timeout=5)
    peer, _ = listener.accept()
    assert isinstance(stream, GuardedStream)
    return stream, peer


def _blocked_read_s(stream: GuardedStream) -> float:
    """Seconds a read on a silent peer stays blocked (until the stream is cut: end of file or error)."""
    started = time.monotonic()
    # A shut socket may be reported as an error rather than an end of file.
    with contextlib.suppress(httpcore.ReadError):
        assert stream.read(1024, timeout=10) == b""
    return time.monotonic() - started


def test_a_cut_stream_wakes_a_blocked_read_and_looks_closed_to_the_pool(listener: socket.socket) -> None:
    """Cutting from another thread ends a read blocked on a silent peer, and the stream then reports
    itself readable: httpcore's sign of a connection the server closed, which it never reuses."""
    stream, peer = _connect(listener)
    with peer:
        assert stream.get_extra_info("is_readable") is False
        cutter = threading.Timer(0.2, stream.cut)
        cutter.start()
        assert _blocked_read_s(stream) < 1.0
        assert stream.was_cut and stream.get_extra_info("is_readable") is True
        cutter.join(5)
        stream.close()


def test_opening_and_writing_attach_the_stream_to_the_running_call(listener: socket.socket) -> None:
    """A connection opened, or written to, inside a guard's block is the one that guard cuts."""
    with CallGuard(what="the test call", deadline=time.time() + 0.3, cancel=None):
        stream, peer = _connect(listener)
        with peer:
            stream.write(b"GET / HTTP/1.1\r\n\r\n", timeout=5)
            assert _blocked_read_s(stream) < 1.0  # the deadline, 0.3 s away, cut it
            assert stream.was_cut
    stream.close()
