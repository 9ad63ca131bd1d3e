"""The worker process: the Celery app with one task per tool (``celery -A workers.main worker``).

This module is the worker's entry point, so it builds the settings and the app when imported.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import redis
from celery import Celery
from celery.signals import (
    after_setup_logger,
    setup_logging,
    task_revoked,
    worker_ready,
    worker_shutdown,
)

from contracts import tracing
from contracts.logs import configure_logging, install_filter
from contracts.names import NOOP_TASK
from contracts.packs import import_packs
from contracts.queue import make_celery
from contracts.settings import Settings, load_settings
from workers import intake, supabase_sync, telemetry
from workers.breaker import Breaker
from workers.cancel_listener import CancelListener
from workers.claims import Claims
from workers.consensus import register_consult
from workers.event_batches import batching_step
from workers.leases import Leases
from workers.packs import register_packs
from workers.protected import ProtectedClient
from workers.reaper import Reaper
from workers.runner import ProviderPool, Runner
from workers.telemetry import WorkerTelemetry

log = logging.getLogger("workers")


def build(settings: Settings) -> tuple[Celery, Runner]:
    packs = import_packs(settings.tool_pack_modules())  # the built-in tools, then EXAI_TOOL_PACKS
    app = make_celery(settings)
    # Celery keeps one result backend per thread, and under gevent every greenlet is a thread:
    # each call built (and connected) a new Redis backend, 8 % of the worker's CPU at 1,000
    # calls in flight. Its Redis client is thread-safe, so one backend serves them all.
    app.conf.result_backend_thread_safe = True
    app.steps["consumer"].add(batching_step(settings))
    intake.install(settings.exai_worker_intake_poll_s)
    pool = redis.BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.exai_redis_max_connections,
        timeout=settings.exai_redis_pool_timeout_s,
        health_check_interval=30,
    )
    client = redis.Redis(connection_pool=pool)
    listener = CancelListener(client)
    breaker = Breaker(
        client, threshold=settings.exai_breaker_failure_threshold, cooldown_s=settings.exai_breaker_cooldown_s
    )
    leases = Leases(client, ttl_s=settings.exai_lease_ttl_s)
    providers = ProviderPool(settings, wrap=lambda inner: ProtectedClient(inner, breaker, leases, settings))
    claims = Claims(client, settings.exai_claim_ttl_s)
    runner = Runner(settings, client, listener, providers.get, claims)

    register_packs(app, runner, packs)  # one Celery task per tool of every pack (workers.packs)
    runner.celery = app  # consensus sends its per-model sub-tasks through it
    register_consult(app, runner)
    supabase_sync.install(app, runner, settings)  # durable history, when SUPABASE_URL is set

    @app.task(name=NOOP_TASK, ignore_result=False, acks_late=False)
    def noop(value: Any = None) -> Any:
        """The raw Celery baseline the benchmark compares a tool call against."""
        return value

    return app, runner


settings = load_settings()


@setup_logging.connect
def _logging(**_: Any) -> None:
    configure_logging(settings.log_level, settings.exai_log_format)


@after_setup_logger.connect
def _celery_logging(logger: logging.Logger, **_: Any) -> None:
    install_filter(logger)


@task_revoked.connect
def _revoked(request: Any = None, **_: Any) -> None:
    # Celery drops a revoked message without running the task; record the call as cancelled so
    # whoever asks for its result later gets an answer instead of waiting for its deadline.
    job = (getattr(request, "kwargs", None) or {}).get("job")
    if isinstance(job, dict):
        runner.record_cancelled(job)


@worker_ready.connect
def _ready(sender: Any = None, **_: Any) -> None:
    # A start-up banner, printed whatever LOG_LEVEL is: supervisors and tests wait for it.
    hostname = getattr(sender, "hostname", "?")
    # Keep this worker's claims alive, and hand back the calls of workers that died.
    runner.claims.start()
    Reaper(
        runner.redis,
        claim_ttl_s=settings.exai_claim_ttl_s,
        interval_s=settings.exai_reaper_interval_s,
        owner=runner.claims.owner,
    ).start()
    print(
        f"exai worker ready: {hostname} pool={settings.exai_worker_pool} "
        f"concurrency={settings.exai_worker_concurrency}",
        file=sys.stderr,
        flush=True,
    )


app, runner = build(settings)
recorder = WorkerTelemetry(settings, runner.redis, settings.exai_worker_concurrency)
telemetry.install(recorder)
tracing.setup(settings, "exai-worker")


@worker_ready.connect
def _telemetry_ready(sender: Any = None, **_: Any) -> None:
    recorder.concurrency = getattr(sender, "concurrency", None) or settings.exai_worker_concurrency
    recorder.start(getattr(sender, "hostname", None) or "")


@worker_shutdown.connect
def _telemetry_stop(**_: Any) -> None:
    recorder.stop()  # removes the heartbeat, so monitoring sees the worker gone at once
