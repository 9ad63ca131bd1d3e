"""`exai flower` as a real Flower process: /metrics needs the same basic auth as every other page."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cli.local_redis import LocalRedis, free_port
from tests.support.clients import WAIT
from tests.support.processes import ManagedProcess

pytestmark = pytest.mark.e2e

PASSWORD = "flower-password-for-tests"
AUTH = ("exai", PASSWORD)


@pytest.fixture(scope="module")
def flower(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Flower on a private Redis and a free port, behind basic auth; yields its base URL."""
    directory = tmp_path_factory.mktemp("flower")
    redis_server = LocalRedis(directory / "redis").start()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EXAI_", "FLOWER_"))}
    env.update(
        REDIS_URL=redis_server.url,
        EXAI_FLOWER_PORT=str(port),
        EXAI_FLOWER_PASSWORD=PASSWORD,
        PYTHONPATH=str(Path(__file__).resolve().parents[2]),
    )
    process = ManagedProcess("flower", ["-m", "cli.main", "flower"], env, directory / "flower.log")
    try:
        process.start(r"Visit me at", timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop()
        redis_server.stop()


def test_metrics_need_the_flower_credentials(flower: str) -> None:
    """No credentials, a wrong password or another scheme: 401 with a Basic challenge; the right ones pass."""
    for auth in (None, ("exai", "wrong-password"), ("someone", PASSWORD)):
        refused = httpx.get(f"{flower}/metrics", auth=auth, timeout=WAIT)
        assert refused.status_code == 401, auth
        assert refused.headers["WWW-Authenticate"].startswith("Basic")
        assert "flower_" not in refused.text
    bearer = httpx.get(f"{flower}/metrics", headers={"Authorization": f"Bearer {PASSWORD}"}, timeout=WAIT)
    assert bearer.status_code == 401
    served = httpx.get(f"{flower}/metrics", auth=AUTH, timeout=WAIT)
    assert served.status_code == 200 and "flower_events_total" in served.text


def test_no_other_spelling_of_the_path_serves_metrics_openly(flower: str) -> None:
    """A query string or a trailing slash does not reach Flower's own, open handler."""
    for path in ("/metrics?x=1", "/metrics/", "//metrics"):
        answer = httpx.get(f"{flower}{path}", timeout=WAIT)
        assert answer.status_code in (401, 404), path
        assert "flower_events_total" not in answer.text, path


def test_the_rest_of_flower_is_as_before(flower: str) -> None:
    """Pages and the API still need the password; /healthcheck, which says only OK, stays open for probes."""
    assert httpx.get(f"{flower}/api/workers", timeout=WAIT).status_code == 401
    assert httpx.get(f"{flower}/", timeout=WAIT).status_code == 401
    assert httpx.get(f"{flower}/api/workers", auth=AUTH, timeout=WAIT).status_code == 200
    health = httpx.get(f"{flower}/healthcheck", timeout=WAIT)
    assert health.status_code == 200 and health.text == "OK"
