"""Health components and the overall verdict, from synthetic state."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from contracts.events import Heartbeat
from contracts.settings import load_settings
from monitoring.activity import Activity, SetAsideRecord
from monitoring.health import (
    DEGRADED,
    OK,
    UNHEALTHY,
    WARN,
    Component,
    HealthChecker,
    check_disk,
    check_memory,
    check_providers,
    check_queue,
    check_redis,
    check_set_aside,
    check_workers,
    overall,
)
from monitoring.state import BreakerState, QueueState, Snapshot

pytestmark = pytest.mark.anyio


def _worker(active: int = 0) -> Heartbeat:
    return Heartbeat(
        role="worker", hostname="w1", pid=1, started_at=time.time(), concurrency=10, active=active
    )


def test_warnings_keep_the_service_healthy_but_degraded_or_unhealthy_do_not() -> None:
    """The worst component decides, except that warnings alone stay healthy."""
    assert overall([Component("a", OK, ""), Component("b", WARN, "")]) == "healthy"
    assert overall([Component("a", OK, ""), Component("b", DEGRADED, "")]) == "degraded"
    assert overall([Component("a", DEGRADED, ""), Component("b", UNHEALTHY, "")]) == "unhealthy"


def test_no_live_worker_is_unhealthy_and_busy_workers_are_fine() -> None:
    """Heartbeats decide; calls running are normal work."""
    assert check_workers(Snapshot(), fresh=True).status == UNHEALTHY
    busy = check_workers(Snapshot(workers=[_worker(active=10)]), fresh=True)
    assert busy.status == OK and busy.details["active_calls"] == 10
    assert check_workers(Snapshot(workers=[_worker()]), fresh=False).status == UNHEALTHY


def test_a_backlog_or_an_old_waiting_call_degrades_the_queue() -> None:
    """Thresholds EXAI_HEALTH_QUEUE_BACKLOG and EXAI_HEALTH_QUEUE_AGE_S apply."""
    settings = load_settings(exai_health_queue_backlog=5, exai_health_queue_age_s=10)
    fine = Snapshot(queues=[QueueState("exai.tools", 5, 9.0)])
    assert check_queue(fine, True, settings).status == OK
    long = Snapshot(queues=[QueueState("exai.tools", 6, None)])
    assert check_queue(long, True, settings).status == DEGRADED
    old = Snapshot(queues=[QueueState("exai.tools", 1, 11.0)])
    assert "EXAI_HEALTH_QUEUE_AGE_S" in check_queue(old, True, settings).message


def test_provider_breakers_and_missing_keys_show_per_provider() -> None:
    """An open breaker degrades its provider; a provider without a key is only reported."""
    settings = load_settings(kimi_api_key="k" * 20, glm_api_key=None)
    snap = Snapshot(breakers={"kimi": BreakerState("kimi", "open", 5, time.time(), "rate_limit")})
    components = {c.name: c for c in check_providers(snap, Activity(60, 5), settings)}
    assert components["provider:kimi"].status == DEGRADED
    assert components["provider:kimi"].details["last_error"] == "rate_limit"
    assert components["provider:glm"].status == OK
    assert components["provider:glm"].details["configured"] is False


def test_a_call_set_aside_degrades_health_for_the_window_then_not() -> None:
    """Within EXAI_HEALTH_SET_ASIDE_WINDOW_S of a set-aside call the component is degraded, then ok."""
    settings = load_settings(exai_health_set_aside_window_s=600)
    activity = Activity(60, 5)
    assert check_set_aside(activity, settings, now=1000.0).status == OK
    activity.add_set_aside(SetAsideRecord(at=1000.0, tool="chat", handovers=3, correlation_id="c-1"))
    degraded = check_set_aside(activity, settings, now=1599.0)
    assert degraded.status == DEGRADED and degraded.name == "set_aside_calls"
    assert degraded.details["recent"] == 1 and degraded.details["tools"] == ["chat"]
    assert "c-1" not in str(degraded)  # counts and tools only; the dashboard has the ids
    assert check_set_aside(activity, settings, now=1601.0).status == OK


def test_memory_and_disk_follow_their_thresholds(tmp_path: Path) -> None:
    """Thresholds at 0.1 % make any real machine cross them."""
    low = load_settings(
        exai_memory_warn_percent=0.1,
        exai_memory_critical_percent=100,
        exai_disk_degraded_percent=0.1,
        exai_disk_unhealthy_percent=100,
        exai_disk_path=str(tmp_path),
    )
    assert check_memory(low).status == WARN
    assert check_disk(low).status == DEGRADED
    critical = load_settings(exai_memory_critical_percent=0.1, exai_disk_unhealthy_percent=0.1)
    assert check_memory(critical).status == UNHEALTHY
    assert check_disk(critical).status == UNHEALTHY
    assert check_disk(load_settings(exai_disk_path=str(tmp_path / "missing"))).status == DEGRADED


async def test_an_unreachable_redis_is_unhealthy_and_the_answer_is_503() -> None:
    """A fresh connection to a closed port fails fast; readiness says 503 with no URL in it."""
    settings = load_settings(redis_url="redis://:pw-not-shown@127.0.0.1:1/0", exai_health_timeout_s=2)
    assert (await check_redis(settings)).status == UNHEALTHY

    class Source:
        snapshot = Snapshot(workers=[_worker()])
        snapshot_ok = True

    status, body = await HealthChecker(settings, Source(), Activity(60, 5)).readiness()
    assert status == 503 and body["status"] == "unhealthy"
    assert "pw-not-shown" not in str(body) and "127.0.0.1:1" not in str(body)
    assert body["timestamp"].endswith("+00:00")
