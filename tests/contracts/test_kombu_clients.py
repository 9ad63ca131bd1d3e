"""kombu's Redis channel reuses one redis-py client, and makes a new one with a new pool."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kombu import Connection

from cli.local_redis import LocalRedis
from contracts import kombu_clients


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = LocalRedis(Path(tmp_path_factory.mktemp("redis")), persist=False).start()
    try:
        yield f"redis://127.0.0.1:{server.port}/0"
    finally:
        server.stop()


def test_a_channel_builds_its_client_once_until_its_pool_changes(redis_url: str) -> None:
    kombu_clients.install()
    with Connection(redis_url) as connection:
        channel = connection.default_channel
        first = channel._create_client()
        assert channel._create_client() is first
        assert channel._create_client(asynchronous=True) is not first  # BRPOP keeps its own
        channel._pool = None  # what kombu does when the connection is reset
        assert channel._create_client() is not first


def test_messages_still_go_through_a_shared_client(redis_url: str) -> None:
    kombu_clients.install()
    with Connection(redis_url) as connection:
        queue = connection.SimpleQueue("exai-test-kombu-clients")
        for n in range(3):
            queue.put({"n": n})
        received = []
        for _ in range(3):
            message = queue.get(timeout=5)
            received.append(message.payload["n"])
            message.ack()
        queue.close()
    assert received == [0, 1, 2]
