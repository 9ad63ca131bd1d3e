"""The raw Celery baseline: ``send_task`` + ``get`` of a no-op task on the same Redis and worker."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from celery import Celery

from contracts.names import NOOP_TASK
from contracts.queue import make_celery
from contracts.settings import Settings


def app_for(redis_url: str) -> Celery:
    return make_celery(Settings(redis_url=redis_url))


def round_trip(app: Celery) -> float:
    started = time.perf_counter()
    if app.send_task(NOOP_TASK, args=[1]).get(timeout=60) != 1:
        raise RuntimeError("the no-op task returned the wrong value")
    return time.perf_counter() - started


def throughput(redis_url: str, concurrency: int, total: int) -> float:
    """Tasks per second with ``concurrency`` round trips in flight (one client app per thread)."""
    local = threading.local()
    apps: list[Celery] = []

    def one(_: int) -> float:
        if not hasattr(local, "app"):
            local.app = app_for(redis_url)
            apps.append(local.app)
            round_trip(local.app)  # connect before the clock matters
        return round_trip(local.app)

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(concurrency)))  # warm every thread's connections
        started = time.perf_counter()
        list(pool.map(one, range(total)))
        elapsed = time.perf_counter() - started
    for app in apps:
        app.close()
    return total / elapsed
