"""Calls in flight on one gateway process, and the deferred answers waiting on them — no coroutine each.

A :class:`Call` is a job this gateway sent: it holds the client's in-flight slot until the call's
outcome arrives or its deadline passes (never released because a client left), keeps progress
increasing (a retried worker restarts its count) and is metered once when it ends. A
:class:`Route` is one deferred answer: where it goes and how it is encoded (a plain call of either
era, the old daemon protocol, a 2025 task's status watch, a ``tasks/result`` wait). Several routes
may wait on one call id; waits on calls this gateway did not send are *watches*, completed when the
done channel says the call ended. The reply listener, the sweep and cancellations all act on these
synchronously: a parked call costs a slotted object in a dict, not a task.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from contracts.job import Job, Outcome, ProgressEvent
from gateway.limits import Slot

log = logging.getLogger(__name__)


class Route:
    """One deferred answer; subclasses say how progress, heartbeats and the outcome are sent."""

    __slots__ = ("attached",)
    # A watch (a wait on a call another gateway sent) past this Unix time with no outcome is
    # ended by the sweep with a timeout; None: the route does not bound its wait itself.
    deadline: float | None = None

    def __init__(self) -> None:
        self.attached = True  # False once detached (its client left or cancelled): sends nothing

    def progress(self, call: Call, value: float, event: ProgressEvent) -> None:
        """A worker's progress (``value`` already kept increasing) or log event."""

    def heartbeat(self, call: Call, value: float, message: str) -> None:
        """The gateway's own progress on a silent call."""

    def outcome(self, call_id: str, outcome: Outcome) -> None:
        """The call's outcome (terminal or ``input_required``); the route is done after it."""


@dataclass(eq=False, slots=True)
class Call:
    """One job this gateway sent, until its outcome or its deadline."""

    job: Job
    slot: Slot
    started: float
    last_sent: float
    routes: list[Route] = field(default_factory=list)
    last_progress: float = 0.0
    running: bool = False
    # Once, when it ends (terminal or input_required): metering, the span.
    on_end: Callable[[Call, Outcome], None] | None = None

    def next_progress(self, value: float) -> float:
        # MCP requires progress to grow; worker counts restart after a retry, so bump past them.
        self.last_progress = value if value > self.last_progress else self.last_progress + 1
        return self.last_progress


class InFlight:
    """The calls one gateway process sent, and the routes and watches waiting on calls."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.calls: dict[str, Call] = {}
        self.watches: dict[str, list[Route]] = {}

    def __len__(self) -> int:
        return len(self.calls)

    def __contains__(self, call_id: object) -> bool:
        return call_id in self.calls

    # --- registering ------------------------------------------------------------------------
    def start(self, job: Job, slot: Slot, on_end: Callable[[Call, Outcome], None] | None = None) -> Call:
        """Register a call before its job is sent, so no reply can arrive before we listen."""
        now = self.clock()
        call = Call(job=job, slot=slot, started=now, last_sent=now, on_end=on_end)
        self.calls[job.call_id] = call
        return call

    def attach(self, call_id: str, route: Route) -> None:
        """``route`` waits for ``call_id``: a call of ours, or else a watch for the done channel."""
        call = self.calls.get(call_id)
        if call is not None:
            call.routes.append(route)
        else:
            self.watches.setdefault(call_id, []).append(route)

    def detach(self, call_id: str, route: Route) -> None:
        """``route`` stops waiting (its client cancelled or left); the call itself runs on."""
        route.attached = False
        call = self.calls.get(call_id)
        routes = call.routes if call is not None else self.watches.get(call_id, [])
        if route in routes:
            routes.remove(route)
        if call is None and not routes:
            self.watches.pop(call_id, None)

    def forget(self, call_id: str) -> Call | None:
        """Drop a call that was never sent (its queueing failed); its slot is released."""
        call = self.calls.pop(call_id, None)
        if call is not None:
            call.slot.release()
        return call

    # --- events -----------------------------------------------------------------------------
    def progress(self, event: ProgressEvent) -> None:
        call = self.calls.get(event.call_id)
        if call is None:
            return
        call.running = True
        call.last_sent = self.clock()
        value = call.last_progress if event.log is not None else call.next_progress(event.progress)
        for route in tuple(call.routes):
            _safely(route.progress, call, value, event)

    def complete(self, call_id: str, outcome: Outcome) -> None:
        """A call's outcome (from its reply, the done channel, the sweep or a cancel): every route
        and watch waiting on it gets it, once; the call ends and its slot is released."""
        call = self.calls.pop(call_id, None)
        routes = list(call.routes) if call is not None else []
        routes.extend(self.watches.pop(call_id, ()))
        if call is not None:
            call.slot.release()
            if call.on_end is not None:
                _safely(call.on_end, call, outcome)
        for route in routes:
            if route.attached:
                _safely(route.outcome, call_id, outcome)

    def heartbeat(self, interval_s: float) -> None:
        """Progress for calls whose routes heard nothing for ``interval_s`` (clients time out idle
        requests, many at 60 s)."""
        now = self.clock()
        for call in tuple(self.calls.values()):
            if call.routes and now - call.last_sent >= interval_s:
                call.last_sent = now
                state = "running" if call.running else "waiting for a worker"
                message = f"{state}, {now - call.started:.0f} s elapsed"
                for route in tuple(call.routes):
                    _safely(route.heartbeat, call, call.last_progress, message)

    # --- what the sweep reads -----------------------------------------------------------------
    def overdue(self, wall_now: float, grace_s: float) -> list[Call]:
        """Calls past their deadline by more than ``grace_s`` (their outcome never came)."""
        return [call for call in self.calls.values() if wall_now > call.job.deadline + grace_s]

    def stale(self, older_than_s: float, everything: bool = False) -> Iterator[str]:
        """Ids whose outcome may have been missed: our calls older than ``older_than_s`` (all of
        them when ``everything``) and every watched call."""
        now = self.clock()
        for call_id, call in self.calls.items():
            if everything or now - call.started >= older_than_s:
                yield call_id
        yield from (call_id for call_id in self.watches if call_id not in self.calls)


def _safely(fn: Callable[..., Any], *args: Any) -> None:
    # One route's failure (a bug in an encoder) must not keep the others from their answer.
    try:
        fn(*args)
    except Exception:
        log.exception("a deferred answer failed")
