"""A background flush of buffered Celery events: after the first event of a batch, wait, then flush.

Used by the worker's task-event batching and the gateway's task-sent batching, so both gather the
events of calls that start together into one message (``EXAI_TASK_EVENT_BATCH_S``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class EventFlusher:
    def __init__(self, interval_s: float, flush: Callable[[], None], name: str) -> None:
        self._interval_s = interval_s
        self._flush = flush
        self._pending = threading.Event()
        self._closed = threading.Event()
        # A greenlet in a gevent worker (threading is patched there), a thread elsewhere.
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """An event was buffered: flush after the interval."""
        self._pending.set()

    def close(self) -> None:
        """Stop the background flush; the caller flushes what is left."""
        self._closed.set()
        self._pending.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._closed.is_set():
            self._pending.wait()
            self._closed.wait(self._interval_s)  # let the events of calls starting together gather
            self._pending.clear()
            self._flush()
