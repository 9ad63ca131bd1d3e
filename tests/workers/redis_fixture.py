"""A private Redis process for worker unit tests that need real Redis semantics (TTL, WATCH)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from cli.local_redis import LocalRedis


@pytest.fixture(scope="module")
def redis_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[redis.Redis]:
    server = LocalRedis(tmp_path_factory.mktemp("redis"), persist=False).start()
    client = redis.Redis(port=server.port)
    try:
        yield client
    finally:
        client.close()
        server.stop()
