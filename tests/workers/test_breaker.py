"""The shared circuit breaker: closed → open → half-open probe → closed, state in one Redis hash."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from contracts.names import breaker_key
from tests.workers.redis_fixture import redis_client
from workers.breaker import Breaker

__all__ = ["redis_client"]


@pytest.fixture
def client(redis_client: redis.Redis) -> Iterator[redis.Redis]:
    redis_client.flushdb()
    yield redis_client


def test_consecutive_transient_failures_open_the_breaker_at_the_threshold(client: redis.Redis) -> None:
    """Four server errors leave it closed; the fifth opens it, and calls are refused."""
    breaker = Breaker(client, threshold=5, cooldown_s=60)
    assert not any(breaker.record_failure("kimi", "server_error", "HTTP 503") for _ in range(4))
    assert breaker.allow("kimi").allowed
    assert breaker.record_failure("kimi", "server_error", "HTTP 503") is True
    decision = breaker.allow("kimi")
    assert not decision.allowed and 0 < decision.retry_after_s <= 60
    state = breaker.state("kimi")
    assert state["state"] == "open" and state["failures"] == "5"
    assert "HTTP 503" in state["last_error"] and float(state["opened_at"]) > 0


def test_a_success_resets_the_count_of_consecutive_failures(client: redis.Redis) -> None:
    """Failures must be consecutive: a success in between starts the count again."""
    breaker = Breaker(client, threshold=3, cooldown_s=60)
    breaker.record_failure("glm", "timeout")
    breaker.record_failure("glm", "timeout")
    breaker.record_success("glm")
    breaker.record_failure("glm", "timeout")
    assert breaker.allow("glm").allowed
    assert client.hget(breaker_key("glm"), "state") == b"closed"


def test_an_authentication_error_opens_the_breaker_at_once(client: redis.Redis) -> None:
    """A bad key will not fix itself: one auth error is enough."""
    breaker = Breaker(client, threshold=5, cooldown_s=60)
    assert breaker.record_failure("kimi", "auth", "invalid key") is True
    assert not breaker.allow("kimi").allowed


def test_quota_and_bad_request_errors_do_not_count(client: redis.Redis) -> None:
    """They show the provider is up; only transient and auth errors count."""
    breaker = Breaker(client, threshold=1, cooldown_s=60)
    assert breaker.record_failure("kimi", "quota") is False
    assert breaker.record_failure("kimi", "bad_request") is False
    assert breaker.allow("kimi").allowed


def test_after_the_cooldown_exactly_one_probe_is_let_through(client: redis.Redis) -> None:
    """Half-open admits one caller; its success closes the breaker for everyone."""
    breaker = Breaker(client, threshold=1, cooldown_s=0.01)
    breaker.record_failure("kimi", "overloaded")
    client.hset(breaker_key("kimi"), "opened_at", 0)  # the cooldown is over
    assert breaker.allow("kimi").allowed
    assert breaker.state("kimi")["state"] == "half_open"
    client.hset(breaker_key("kimi"), "probe_until", 9e18)  # the probe is still running
    assert not breaker.allow("kimi").allowed
    breaker.record_success("kimi")
    assert breaker.allow("kimi").allowed and breaker.state("kimi")["state"] == "closed"


def test_a_failed_probe_opens_the_breaker_again(client: redis.Redis) -> None:
    """One failure in half-open is enough to open it for another cooldown."""
    breaker = Breaker(client, threshold=5, cooldown_s=60)
    client.hset(breaker_key("glm"), mapping={"state": "half_open", "probe_until": 9e18, "failures": 5})
    assert breaker.record_failure("glm", "server_error") is True
    assert breaker.state("glm")["state"] == "open"


def test_a_probe_whose_worker_died_is_replaced_after_the_cooldown(client: redis.Redis) -> None:
    """A half-open breaker whose probe never reported back lets the next caller probe."""
    breaker = Breaker(client, threshold=5, cooldown_s=60)
    client.hset(breaker_key("glm"), mapping={"state": "half_open", "probe_until": 1})
    assert breaker.allow("glm").allowed


def _writes(client: redis.Redis) -> int:
    stats: dict[str, dict[str, int]] = client.info("commandstats")  # type: ignore[assignment]
    return int(stats.get("cmdstat_hset", {}).get("calls", 0))


def test_a_success_on_a_closed_breaker_writes_nothing_and_skips_untracked_models(client: redis.Redis) -> None:
    """The first success records the provider; later ones, and models with no record, write nothing."""
    breaker = Breaker(client, threshold=5, cooldown_s=60)
    breaker.record_success("kimi", "kimi:kimi-k2.6")
    assert breaker.state("kimi")["state"] == "closed"
    assert not client.exists(breaker_key("kimi:kimi-k2.6"))
    before = _writes(client)
    for _ in range(5):
        breaker.record_success("kimi", "kimi:kimi-k2.6")
    assert _writes(client) == before
    breaker.record_failure("kimi:kimi-k2.6", "overloaded", "HTTP 429")
    breaker.record_success("kimi", "kimi:kimi-k2.6")  # now tracked: its count is reset
    assert breaker.state("kimi:kimi-k2.6")["failures"] == "0"


def test_the_first_refusing_breaker_is_named_and_later_probes_are_kept(client: redis.Redis) -> None:
    """Model refused: the provider's half-open probe is not used up by a call that never runs."""
    now = [1_000_000.0]
    breaker = Breaker(client, threshold=1, cooldown_s=30, clock=lambda: now[0])
    breaker.record_failure("glm", "server_error", "HTTP 503")  # provider open, cooling down
    breaker.record_failure("glm:glm-5", "overloaded", "HTTP 429")
    now[0] += 31  # both cooled down: each may let one probe through
    client.hset(breaker_key("glm:glm-5"), mapping={"state": "open", "opened_at": now[0]})
    refused, decision = breaker.first_refusal(["glm:glm-5", "glm"])
    assert refused == "glm:glm-5" and not decision.allowed
    assert breaker.state("glm")["state"] == "open"  # untouched: its probe is still to come
    refused, decision = breaker.first_refusal(["glm"])
    assert refused is None and decision.allowed
    assert breaker.state("glm")["state"] == "half_open"
