"""Redis writes a call leaves for a round trip it makes anyway.

A call's last writes (its capacity lease given back, its breakers told of a success, a new
conversation thread) each cost a round trip of their own right before the one that stores the
outcome. Queued here instead, they go out in that round trip, in one pipeline ahead of the outcome
script, so Redis applies them before anybody hears of the outcome. A call that asks a provider again
sends them with that call's admission instead (so a lease is never held past its call), and one
that ends without storing an outcome (a scheduled retry, a bug) has them flushed on their own.
Every queued write is idempotent, so sending one twice after a lost connection is harmless.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import redis

Write = Callable[[redis.client.Pipeline], object]


class WriteBehind:
    def __init__(self) -> None:
        self._writes: list[Write] = []
        self._lock = threading.Lock()

    def add(self, write: Write) -> None:
        with self._lock:
            self._writes.append(write)

    def queue_on(self, pipe: redis.client.Pipeline) -> int:
        """Queue every waiting write on ``pipe``; returns how many (forget them with :meth:`sent`)."""
        with self._lock:
            writes = list(self._writes)
        for write in writes:
            write(pipe)
        return len(writes)

    def sent(self, count: int) -> None:
        """The first ``count`` writes reached Redis."""
        with self._lock:
            del self._writes[:count]

    def take(self, other: WriteBehind) -> None:
        """Queue ``other``'s waiting writes after these, leaving ``other`` empty."""
        with other._lock:
            writes, other._writes = other._writes, []
        with self._lock:
            self._writes.extend(writes)

    def flush(self, client: redis.Redis) -> None:
        """Send what is still waiting, in one round trip."""
        with client.pipeline(transaction=False) as pipe:
            count = self.queue_on(pipe)
            if count:
                pipe.execute()
        self.sent(count)
