"""Per-client limits at the gateway: calls in flight and call rate, answered at once when hit.

Counted per gateway process and per client identity (the token's name). A call holds a slot from
the moment it is accepted until its outcome arrives, its deadline passes or its client leaves
(``Slot.release`` is idempotent, so no path can release twice or leak one). Nothing here knows about
a transport: every session asks :func:`shared_limits` for the one instance of its gateway.
"""

from __future__ import annotations

import math
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

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


class ClientLimits:
    def __init__(
        self, *, max_in_flight: int, calls_per_minute: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_in_flight = max_in_flight
        self.calls_per_minute = calls_per_minute
        self._clock = clock
        self.in_flight: dict[str, int] = {}
        self._buckets: dict[str, _Bucket] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> ClientLimits:
        return cls(
            max_in_flight=settings.exai_client_max_in_flight,
            calls_per_minute=settings.exai_client_calls_per_minute,
        )

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
        self.in_flight[client] = self.in_flight.get(client, 0) + 1

        def release() -> None:
            left = self.in_flight.get(client, 0) - 1
            if left > 0:
                self.in_flight[client] = left
            else:
                self.in_flight.pop(client, None)

        return Slot(release)


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
