"""Limits at the gateway that hold against a hostile client, answered at once when hit.

Counted per gateway process and per client identity (the token's name):

* calls in flight and call rate: a call holds its slot from the moment it is accepted until its
  outcome arrives or its deadline passes, whatever happens to its connection, so reconnecting
  frees nothing;
* outstanding requests (any method: calls, ``tasks/result`` waits, …) per session and per client;
* Streamable HTTP sessions per client (the oldest idle one makes room) and their expiry;
* open connections overall and per remote address, one count per front.

``Slot.release`` is idempotent, so no path can release twice or leak one. Nothing here knows about
a transport: every session asks :func:`shared_limits` for the one instance of its gateway.
"""

from __future__ import annotations

import math
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from contracts.settings import Settings


class LimitExceeded(Exception):
    """Raised when a client is over one of its limits; ``retry_after_s`` says when to try again."""

    def __init__(self, message: str, retry_after_s: float, limit: str) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after_s = retry_after_s
        self.limit = limit


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class Slot:
    _release: Callable[[], None] | None = field(default=None, repr=False)

    def release(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()


def _counted(counts: dict[str, int], key: str) -> Slot:
    counts[key] = counts.get(key, 0) + 1

    def release() -> None:
        left = counts.get(key, 0) - 1
        if left > 0:
            counts[key] = left
        else:
            counts.pop(key, None)

    return Slot(release)


class ClientLimits:
    def __init__(
        self,
        *,
        max_in_flight: int,
        calls_per_minute: int,
        max_pending: int | None = None,
        max_session_pending: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``max_pending`` / ``max_session_pending``: outstanding requests per client and per
        session (None: no cap)."""
        self.max_in_flight = max_in_flight
        self.calls_per_minute = calls_per_minute
        self.max_pending = max_pending
        self.max_session_pending = max_session_pending
        self._clock = clock
        self.in_flight: dict[str, int] = {}
        self.pending: dict[str, int] = {}
        self._buckets: dict[str, _Bucket] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> ClientLimits:
        return cls(
            max_in_flight=settings.exai_client_max_in_flight,
            calls_per_minute=settings.exai_client_calls_per_minute,
            max_pending=settings.exai_client_max_pending,
            max_session_pending=settings.exai_session_max_pending,
        )

    def admit(self, client: str, session_pending: int) -> Slot:
        """A slot for one outstanding request of ``client`` on a session that already has
        ``session_pending`` unanswered, or LimitExceeded naming the limit that is full."""
        if self.max_session_pending is not None and session_pending >= self.max_session_pending:
            raise LimitExceeded(
                f"too many requests outstanding on this session (EXAI_SESSION_MAX_PENDING="
                f"{self.max_session_pending}); wait for answers and retry",
                1.0,
                "session_pending",
            )
        if self.max_pending is not None and self.pending.get(client, 0) >= self.max_pending:
            raise LimitExceeded(
                f"too many requests outstanding for client {client!r} (EXAI_CLIENT_MAX_PENDING="
                f"{self.max_pending}); wait for answers and retry",
                1.0,
                "client_pending",
            )
        return _counted(self.pending, client)

    def acquire(self, client: str) -> Slot:
        """A slot for one call of ``client``, or LimitExceeded naming the limit and when to retry."""
        if self.in_flight.get(client, 0) >= self.max_in_flight:
            raise LimitExceeded(
                f"too many calls in flight for client {client!r} (EXAI_CLIENT_MAX_IN_FLIGHT="
                f"{self.max_in_flight}); wait for one to finish and retry",
                1.0,
                "client_in_flight",
            )
        now = self._clock()
        rate = self.calls_per_minute / 60.0
        bucket = self._buckets.setdefault(client, _Bucket(float(self.calls_per_minute), now))
        bucket.tokens = min(float(self.calls_per_minute), bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens < 1.0:
            wait = math.ceil((1.0 - bucket.tokens) / rate * 10) / 10
            raise LimitExceeded(
                f"client {client!r} is over its call rate (EXAI_CLIENT_CALLS_PER_MINUTE="
                f"{self.calls_per_minute}); retry after {wait:.1f} s",
                wait,
                "client_rate",
            )
        bucket.tokens -= 1.0
        return _counted(self.in_flight, client)


_SHARED: weakref.WeakKeyDictionary[object, ClientLimits] = weakref.WeakKeyDictionary()


def shared_limits(owner: object) -> ClientLimits:
    """The one ClientLimits of a gateway process (keyed by its call broker), made on first use."""
    limits = _SHARED.get(owner) if owner is not None else None
    if limits is None:
        settings = getattr(owner, "settings", None)
        if isinstance(settings, Settings):
            limits = ClientLimits.from_settings(settings)
        else:  # a session without a gateway (unit tests): the settings' defaults
            fields = Settings.model_fields
            limits = ClientLimits(
                max_in_flight=fields["exai_client_max_in_flight"].default,
                calls_per_minute=fields["exai_client_calls_per_minute"].default,
                max_pending=fields["exai_client_max_pending"].default,
                max_session_pending=fields["exai_session_max_pending"].default,
            )
        if owner is not None:
            _SHARED[owner] = limits
    return limits


class ConnectionLimits:
    """Open connections, overall and per remote address, checked before the handshake completes."""

    def __init__(self, *, max_total: int, max_per_ip: int) -> None:
        self.max_total = max_total
        self.max_per_ip = max_per_ip
        self.total = 0
        self.per_ip: dict[str, int] = {}

    def refusal(self, ip: str) -> str | None:
        """Why a new connection from ``ip`` is refused now, or None."""
        if self.total >= self.max_total:
            return f"the gateway is at its limit of {self.max_total} connections (EXAI_MAX_CONNECTIONS)"
        if self.per_ip.get(ip, 0) >= self.max_per_ip:
            return f"too many connections from this address (EXAI_MAX_CONNECTIONS_PER_IP={self.max_per_ip})"
        return None

    def opened(self, ip: str) -> None:
        self.total += 1
        self.per_ip[ip] = self.per_ip.get(ip, 0) + 1

    def closed(self, ip: str) -> None:
        if ip not in self.per_ip:
            return  # not counted (a second close): counts never drift
        self.total = max(self.total - 1, 0)
        left = self.per_ip[ip] - 1
        if left > 0:
            self.per_ip[ip] = left
        else:
            self.per_ip.pop(ip, None)


class IdleTracked(Protocol):
    """What the HTTP session limits read of a session."""

    @property
    def last_used(self) -> float: ...  # clock time of its latest request

    @property
    def used(self) -> bool: ...  # has it had any request since its initialize?

    def busy(self) -> bool: ...  # a request, a call or a stream still open on it


S = TypeVar("S", bound=IdleTracked)


class SessionLimits:
    """Streamable HTTP sessions: how many one client may hold, and when one ends unused or idle.

    A session costs memory until it ends, and HTTP has no connection whose close would end it; so
    each client identity may hold ``max_per_client``, a new one ending that client's least recently
    used idle session, and a session that never sees a request after ``initialize`` ends after
    ``unused_s`` instead of the ``idle_s`` a session in use gets.
    """

    def __init__(
        self,
        *,
        max_per_client: int,
        idle_s: float,
        unused_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_per_client = max_per_client
        self.idle_s = idle_s
        self.unused_s = unused_s
        self.clock = clock

    def expired(self, session: IdleTracked) -> bool:
        """True when ``session`` should end now: idle (nothing open on it) past its allowance."""
        if session.busy():
            return False
        allowance = self.idle_s if session.used else self.unused_s
        return self.clock() - session.last_used > allowance

    def make_room(self, sessions: Iterable[S]) -> S | None:
        """Which of one client's ``sessions`` to end so that it may open one more: None when there is
        room, its least recently used idle session when it is full, LimitExceeded when every one of
        them is busy."""
        held = list(sessions)
        if len(held) < self.max_per_client:
            return None
        idle = [s for s in held if not s.busy()]
        if not idle:
            raise LimitExceeded(
                f"this client has {len(held)} HTTP sessions open and busy (EXAI_HTTP_MAX_SESSIONS_PER_CLIENT="
                f"{self.max_per_client}); end one (DELETE) or retry when one is idle",
                5.0,
                "http_sessions_per_client",
            )
        return min(idle, key=lambda s: s.last_used)
