"""Cooperative cancellation of a running call.

A cancel token is set by the worker's cancel listener when the caller cancels; code that waits on
the network registers a callback (for example closing the HTTP response) so a blocked read ends at
once instead of at the next chunk.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

from contracts.errors import CallCancelled


class CancelToken:
    def __init__(self) -> None:
        self._set = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []

    def is_set(self) -> bool:
        return self._set.is_set()

    def set(self) -> None:
        with self._lock:
            if self._set.is_set():
                return
            self._set.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            with contextlib.suppress(Exception):  # one failing callback must not stop the others
                callback()

    def add_callback(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Run ``callback`` when the token is set (at once if it already is); returns a remover."""
        with self._lock:
            if not self._set.is_set():
                self._callbacks.append(callback)

                def remove() -> None:
                    with self._lock:
                        if callback in self._callbacks:
                            self._callbacks.remove(callback)

                return remove
        callback()
        return lambda: None

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the token (cooperatively under gevent); True if set."""
        return self._set.wait(max(timeout, 0.0))

    def raise_if_set(self) -> None:
        if self._set.is_set():
            raise CallCancelled("the call was cancelled by the client")
