"""Per-client, outstanding-request, HTTP session and connection limits: immediate refusals with a
retry-after, no leaked slot, and expiry by an injectable clock."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from gateway.limits import ClientLimits, ConnectionLimits, LimitExceeded, SessionLimits


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


def test_outstanding_requests_are_capped_per_session_and_per_client() -> None:
    """A session at its cap is refused; so is a client at its cap over all its sessions; a slot frees."""
    limits = ClientLimits(max_in_flight=10, calls_per_minute=1000, max_pending=3, max_session_pending=2)
    first = limits.admit("alice", 0)
    limits.admit("alice", 1)
    with pytest.raises(LimitExceeded) as session_full:
        limits.admit("alice", 2)
    assert session_full.value.limit == "session_pending" and session_full.value.retry_after_s > 0
    assert "EXAI_SESSION_MAX_PENDING=2" in session_full.value.message
    limits.admit("alice", 0)  # a second session of alice
    with pytest.raises(LimitExceeded) as client_full:
        limits.admit("alice", 0)
    assert (
        client_full.value.limit == "client_pending"
        and "EXAI_CLIENT_MAX_PENDING=3" in client_full.value.message
    )
    limits.admit("bob", 0)
    first.release()
    first.release()
    limits.admit("alice", 0)
    assert limits.pending == {"alice": 3, "bob": 1}


@dataclass
class FakeSession:
    name: str
    last_used: float
    used: bool = True
    open_request: bool = False

    def busy(self) -> bool:
        return self.open_request


def test_a_client_at_its_session_cap_makes_room_by_ending_its_least_recently_used_idle_one() -> None:
    """Below the cap nothing ends; at it, the idle session used longest ago does, not a busy one."""
    limits = SessionLimits(max_per_client=3, idle_s=100, unused_s=10)
    old_busy = FakeSession("old-busy", last_used=1, open_request=True)
    old_idle, new_idle = FakeSession("old-idle", last_used=2), FakeSession("new-idle", last_used=3)
    assert limits.make_room([old_busy, old_idle]) is None
    assert limits.make_room([old_busy, new_idle, old_idle]) is old_idle


def test_a_client_whose_sessions_are_all_busy_is_refused_a_new_one() -> None:
    """Nothing in use is ever ended to make room: the new session is refused with a retry-after."""
    limits = SessionLimits(max_per_client=1, idle_s=100, unused_s=10)
    with pytest.raises(LimitExceeded) as refused:
        limits.make_room([FakeSession("busy", last_used=0, open_request=True)])
    assert refused.value.limit == "http_sessions_per_client" and refused.value.retry_after_s > 0
    assert "EXAI_HTTP_MAX_SESSIONS_PER_CLIENT=1" in refused.value.message


def test_a_session_unused_after_initialize_expires_long_before_an_idle_one() -> None:
    """Unused: gone after unused_s. Used: after idle_s. Busy: never, however long ago it was used."""
    clock = Clock()
    limits = SessionLimits(max_per_client=10, idle_s=100, unused_s=10, clock=clock)
    unused = FakeSession("unused", last_used=0, used=False)
    used = FakeSession("used", last_used=0)
    streaming = FakeSession("streaming", last_used=0, open_request=True)
    clock.now = 10
    assert not limits.expired(unused)
    clock.now = 10.5
    assert limits.expired(unused) and not limits.expired(used)
    clock.now = 100.5
    assert limits.expired(used) and not limits.expired(streaming)
