"""Per-client and connection limits: immediate refusals with a retry-after, and no leaked slot."""

from __future__ import annotations

import pytest

from gateway.limits import ClientLimits, ConnectionLimits, LimitExceeded


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_in_flight_calls_are_capped_per_client_and_freed_on_release() -> None:
    """The third call of a client capped at two is refused; another client is unaffected."""
    limits = ClientLimits(max_in_flight=2, calls_per_minute=1000)
    first = limits.acquire("alice")
    limits.acquire("alice")
    with pytest.raises(LimitExceeded) as refused:
        limits.acquire("alice")
    assert refused.value.limit == "client_in_flight" and refused.value.retry_after_s > 0
    limits.acquire("bob")
    first.release()
    first.release()  # releasing twice frees one slot, not two
    limits.acquire("alice")
    with pytest.raises(LimitExceeded):
        limits.acquire("alice")


def test_the_call_rate_refills_over_time_and_says_when_to_retry() -> None:
    """60 calls a minute: the 61st in the same instant waits about a second."""
    clock = Clock()
    limits = ClientLimits(max_in_flight=1000, calls_per_minute=60, clock=clock)
    for _ in range(60):
        limits.acquire("alice").release()
    with pytest.raises(LimitExceeded) as refused:
        limits.acquire("alice")
    assert refused.value.limit == "client_rate" and 0 < refused.value.retry_after_s <= 1.0
    clock.now += 1.0
    limits.acquire("alice")


def test_connections_are_capped_overall_and_per_address() -> None:
    """A second connection from one address is refused at a per-IP cap of one; closing frees it."""
    limits = ConnectionLimits(max_total=2, max_per_ip=1)
    assert limits.refusal("10.0.0.1") is None
    limits.opened("10.0.0.1")
    assert "EXAI_MAX_CONNECTIONS_PER_IP" in (limits.refusal("10.0.0.1") or "")
    limits.opened("10.0.0.2")
    assert "EXAI_MAX_CONNECTIONS" in (limits.refusal("10.0.0.3") or "")
    limits.closed("10.0.0.1")
    limits.closed("10.0.0.1")  # never below zero
    assert limits.refusal("10.0.0.1") is None and limits.total == 1
