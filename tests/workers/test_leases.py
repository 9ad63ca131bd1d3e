"""Capacity leases in Redis: shared by all workers, never leaked by a dead one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tests.workers.redis_fixture import redis_client
from workers.leases import GLOBAL_SCOPE, LeaseFull, Leases

__all__ = ["redis_client"]


@pytest.fixture
def client(redis_client: redis.Redis) -> Iterator[redis.Redis]:
    redis_client.flushdb()
    yield redis_client


def test_a_scope_at_its_limit_refuses_and_a_release_frees_the_slot(client: redis.Redis) -> None:
    """Two leases fit a limit of two; the third is refused until one is released."""
    leases = Leases(client, ttl_s=30)
    first = leases.try_acquire({"kimi": 2})
    leases.try_acquire({"kimi": 2})
    with pytest.raises(LeaseFull) as full:
        leases.try_acquire({"kimi": 2})
    assert full.value.scope == "kimi" and full.value.limit == 2
    leases.release(first)
    leases.try_acquire({"kimi": 2})
    assert leases.in_flight("kimi") == 2


def test_two_workers_share_one_limit(client: redis.Redis) -> None:
    """Leases taken through separate objects (separate workers) count against the same scope."""
    one, two = Leases(client, ttl_s=30), Leases(client, ttl_s=30)
    one.try_acquire({GLOBAL_SCOPE: 1})
    with pytest.raises(LeaseFull):
        two.try_acquire({GLOBAL_SCOPE: 1, "glm": 5})
    assert two.in_flight("glm") == 0  # a refused lease takes nothing in any scope


def test_a_dead_workers_lease_expires_so_capacity_comes_back(client: redis.Redis) -> None:
    """A lease nobody renews lapses after its ttl; the slot is free again."""
    dead = Leases(client, ttl_s=30)
    dead.try_acquire({"kimi": 1})
    members: list[bytes] = client.zrange("exai:lease:kimi", 0, -1)  # type: ignore[assignment]
    client.zadd("exai:lease:kimi", dict.fromkeys(members, 1.0))  # expired long ago
    Leases(client, ttl_s=30).try_acquire({"kimi": 1})


def test_limits_of_zero_mean_no_cap(client: redis.Redis) -> None:
    """A cap of 0 is no cap: nothing is written and nothing is refused."""
    leases = Leases(client, ttl_s=30)
    for _ in range(5):
        lease = leases.try_acquire({GLOBAL_SCOPE: 0, "kimi": 0})
        assert lease.scopes == ()
    assert client.exists("exai:lease:global") == 0


def test_renewal_pushes_the_expiry_of_held_leases(client: redis.Redis) -> None:
    """A running call's lease is renewed, so a long call keeps its slot."""
    leases = Leases(client, ttl_s=30)
    lease = leases.try_acquire({"kimi": 1})
    client.zadd("exai:lease:kimi", {lease.id: 5.0})
    leases.renew()
    assert (client.zscore("exai:lease:kimi", lease.id) or 0) > 1e9
