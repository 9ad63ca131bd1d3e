"""Provider clients behind breakers and leases, against the real emulator and a real Redis."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from contracts.errors import DeadlineExceeded, ProviderError
from contracts.names import breaker_key
from contracts.settings import Settings
from tests.support.emulator import EmulatorControl
from tests.workers.redis_fixture import redis_client
from workers.breaker import KIND_CIRCUIT_OPEN, Breaker
from workers.leases import Leases
from workers.metered import MeteredClient
from workers.protected import ProtectedClient
from workers.providers.base import ChatRequest
from workers.providers.glm import GlmClient
from workers.providers.kimi import KimiClient
from workers.write_behind import WriteBehind

__all__ = ["redis_client"]


@pytest.fixture
def protected(
    emulator_url: str, redis_client: redis.Redis
) -> Iterator[tuple[ProtectedClient, EmulatorControl]]:
    redis_client.flushdb()
    control = EmulatorControl(emulator_url)
    control.reset()
    inner = KimiClient("sk-test-kimi", base_url=f"{emulator_url}/v1", connect_timeout_s=2, read_timeout_s=5)
    breaker = Breaker(redis_client, threshold=2, cooldown_s=60)
    client = ProtectedClient(
        inner, breaker, Leases(redis_client, ttl_s=30), Settings(exai_provider_max_in_flight=1)
    )
    yield client, control
    client.close()


def chat(client: ProtectedClient, model: str) -> str:
    request = ChatRequest(model=model, messages=[{"role": "user", "content": "hi"}])
    return client.chat(request, request_id="r", deadline=time.time() + 10).text


def test_a_busy_model_opens_its_own_breaker_and_leaves_the_provider_usable(
    protected: tuple[ProtectedClient, EmulatorControl], redis_client: redis.Redis
) -> None:
    """Two "overloaded" answers for one model: that model fails fast, another Kimi model still works."""
    client, control = protected
    control.fault("overloaded", provider="kimi", count=2)
    for _ in range(2):
        with pytest.raises(ProviderError):
            chat(client, "kimi-k2.6")
    with pytest.raises(ProviderError) as refused:
        chat(client, "kimi-k2.6")
    assert refused.value.kind == KIND_CIRCUIT_OPEN and "kimi-k2.6" in refused.value.message
    assert "kimi-k3" in chat(client, "kimi-k3")
    assert redis_client.hget(breaker_key("kimi:kimi-k2.6"), "state") == b"open"
    assert redis_client.hget(breaker_key("kimi"), "state") == b"closed"
    assert control.stats()["calls"]["kimi"] == 3  # the refused call never reached the provider


def test_server_errors_open_the_providers_breaker_for_every_model(
    protected: tuple[ProtectedClient, EmulatorControl], redis_client: redis.Redis
) -> None:
    """Provider-wide failures refuse all its models; a success elsewhere does not create model records."""
    client, control = protected
    chat(client, "kimi-k2.6")
    assert not redis_client.exists(breaker_key("kimi:kimi-k2.6"))
    control.fault("server_error", provider="kimi", count=2)
    for _ in range(2):
        with pytest.raises(ProviderError):
            chat(client, "kimi-k3")
    with pytest.raises(ProviderError) as refused:
        chat(client, "kimi-k2.6")
    assert refused.value.kind == KIND_CIRCUIT_OPEN and refused.value.retry_after is not None


def test_a_call_takes_and_gives_back_its_capacity_lease(
    protected: tuple[ProtectedClient, EmulatorControl], redis_client: redis.Redis
) -> None:
    """With a cap of one, calls in sequence all run: each lease is released when its call ends."""
    client, _ = protected
    for _ in range(3):
        chat(client, "kimi-k2.6")
    assert redis_client.zcard("exai:lease:kimi") == 0


def test_a_call_can_leave_its_closing_writes_for_a_later_round_trip(
    protected: tuple[ProtectedClient, EmulatorControl], redis_client: redis.Redis
) -> None:
    """Deferred, the lease stays out until the writes go; the next provider call sends them first,
    so with a cap of one the second call still runs, and a flush gives the last lease back."""
    client, _ = protected
    after = WriteBehind()
    deferring = client.deferring(after)
    chat(deferring, "kimi-k2.6")
    assert redis_client.zcard("exai:lease:kimi") == 1  # not given back yet
    assert not redis_client.exists(breaker_key("kimi"))  # nor the success told
    chat(deferring, "kimi-k2.6")  # admitted: the first lease went back in the same round trip
    assert redis_client.zcard("exai:lease:kimi") == 1
    after.flush(redis_client)
    assert redis_client.zcard("exai:lease:kimi") == 0
    assert redis_client.hget(breaker_key("kimi"), "state") == b"closed"
    chat(client, "kimi-k2.6")  # the shared client still settles at once
    assert redis_client.zcard("exai:lease:kimi") == 0


def test_web_search_goes_through_the_same_breakers_leases_and_connections_as_chat(
    emulator_url: str, redis_client: redis.Redis
) -> None:
    """GLM's search API on the protected client: it waits for a capacity lease like chat, gives it
    back, and an open GLM breaker refuses it before any request reaches GLM."""
    redis_client.flushdb()
    control = EmulatorControl(emulator_url)
    control.reset()
    base_url = f"{emulator_url}/api/paas/v4"
    inner = GlmClient("sk-test-glm", base_url=base_url, connect_timeout_s=2, read_timeout_s=5)
    breaker = Breaker(redis_client, threshold=1, cooldown_s=60)
    leases = Leases(redis_client, ttl_s=30)
    client = ProtectedClient(MeteredClient(inner), breaker, leases, Settings(exai_provider_max_in_flight=1))
    query = {"search_query": "celery", "search_engine": "search_std", "count": 2}
    try:
        answer = client.web_search(query, request_id="s1", deadline=time.time() + 10)
        assert len(answer["search_result"]) == 2
        assert leases.in_flight("glm") == 0  # the lease went back
        held = leases.try_acquire({"glm": 1})  # another call holds GLM's only slot
        with pytest.raises(DeadlineExceeded, match="free slot"):
            client.web_search(query, request_id="s2", deadline=time.time() + 0.3)
        leases.release(held)
        breaker.record_failure("glm", "server_error", "down")
        with pytest.raises(ProviderError) as refused:
            client.web_search(query, request_id="s3", deadline=time.time() + 10)
        assert refused.value.kind == KIND_CIRCUIT_OPEN
        assert control.stats()["calls"]["glm"] == 1  # only the first search reached GLM
    finally:
        client.close()
