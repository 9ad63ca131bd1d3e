"""A private Redis process for the gateway's Redis-backed parts (task store, broker parts)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cli.local_redis import LocalRedis


@pytest.fixture(scope="module")
def redis_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    server = LocalRedis(tmp_path_factory.mktemp("redis"), persist=False).start()
    try:
        yield server.port
    finally:
        server.stop()
