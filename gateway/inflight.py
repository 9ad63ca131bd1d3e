"""Requests in flight on one session: each gets exactly one answer, whatever goes wrong.

A request that waits (a call, a ``tasks/result``) runs in its own asyncio task. Its :class:`Reply`
lets one answer out; an unexpected exception in its handler becomes an error answer (logged with
its traceback), never "Task exception was never retrieved" and never silence; and it counts against
the outstanding-request caps (per session and per client) from the moment it is accepted until its
task ends, even when that task is cancelled before it ever ran. Nothing here knows a protocol: the
session says what an internal-error answer looks like.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Hashable, Iterator
from typing import Any

from gateway.limits import ClientLimits, Slot

log = logging.getLogger(__name__)


class Reply:
    """The one answer of one request: the first frame goes out, a second is a bug and is dropped."""

    def __init__(self, post: Callable[[str], None], method: str, key: Hashable, request: Any = None) -> None:
        self._post = post
        self.method = method
        self.key = key
        self.request = request  # the decoded request, for the handler
        self.sent = False

    def __call__(self, frame: str) -> None:
        if self.sent:
            log.warning("dropped a second answer to %s %r", self.method, self.key)
            return
        self.sent = True
        self._post(frame)


Work = Callable[[Reply], Coroutine[Any, Any, None]]


class InFlight:
    """A session's requests that wait, by key (the request id), with the call id of each call."""

    def __init__(self, limits: ClientLimits, identity: str, internal_error: Callable[[Reply], str]) -> None:
        self.limits = limits
        self.identity = identity
        self._internal_error = internal_error
        self._entries: dict[Hashable, tuple[asyncio.Task[None], str | None]] = {}

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Hashable]:
        return iter(self._entries)

    def admit(self) -> Slot:
        """A place for one more request that waits, or LimitExceeded naming the cap that is full."""
        return self.limits.admit(self.identity, len(self._entries))

    def spawn(
        self, reply: Reply, work: Work, outstanding: Slot, call_id: str | None = None
    ) -> asyncio.Task[None]:
        """Run ``work(reply)`` in its own task, holding ``outstanding`` (from :meth:`admit`) until
        the task ends; ``call_id`` names the call it waits for, if any."""
        task = asyncio.create_task(self._answering(reply, work), name=f"{reply.method}-{reply.key!r:.40}")
        self._entries[reply.key] = (task, call_id)

        def ended(done: asyncio.Task[None]) -> None:  # runs even for a task cancelled before it ran
            outstanding.release()
            if self._entries.get(reply.key, (None, None))[0] is done:
                del self._entries[reply.key]

        task.add_done_callback(ended)
        return task

    async def _answering(self, reply: Reply, work: Work) -> None:
        try:
            await work(reply)
        except asyncio.CancelledError:
            raise  # the client cancelled it or left: no answer is owed then
        except Exception:
            log.exception("%s %r failed", reply.method, reply.key)
            if not reply.sent:
                reply(self._internal_error(reply))
        else:
            if not reply.sent:  # a handler that forgot to answer: the client must not hang
                log.error("%s %r ended without an answer", reply.method, reply.key)
                reply(self._internal_error(reply))

    def cancel(self, key: Hashable) -> tuple[bool, str | None]:
        """Stop waiting for ``key``: (whether it was in flight, its call id if it is a call)."""
        entry = self._entries.pop(key, None)
        if entry is None:
            return False, None
        task, call_id = entry
        task.cancel()
        return True, call_id

    def cancel_all(self) -> list[str]:
        """The client left: stop every wait; the call ids of the calls among them."""
        entries, self._entries = list(self._entries.values()), {}
        for task, _ in entries:
            task.cancel()
        return [call_id for _, call_id in entries if call_id is not None]
