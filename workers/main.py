"""The worker process: the Celery app with one task per tool (``celery -A workers.main worker``).

This module is the worker's entry point, so it builds the settings and the app when imported.
Everything else — the runner, its Redis client, the background services — is built by
:func:`build` and reached through the app's tasks, signal receivers and the services bootstep.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import redis
from celery import Celery, Task
from celery.signals import (
    after_setup_logger,
    setup_logging,
    task_revoked,
    worker_process_init,
    worker_ready,
)

from contracts import tracing
from contracts.logs import configure_logging, install_filter
from contracts.names import NOOP_TASK, task_name
from contracts.queue import make_celery
from contracts.settings import Settings, load_settings
from contracts.tools import SPECS
from contracts.transport import Consumers
from workers import supabase_sync, telemetry
from workers.breaker import Breaker
from workers.cancel_listener import CancelListener
from workers.claims import Claims, worker_identity
from workers.consensus import register_consult
from workers.leases import Leases
from workers.protected import ProtectedClient
from workers.runner import ProviderPool, Runner
from workers.services import ConsumerHeartbeat, Started, running_here, services_step
from workers.telemetry import WorkerTelemetry
from workers.tools import IMPLEMENTATIONS, ToolFunction

log = logging.getLogger("workers")


def build(settings: Settings) -> tuple[Celery, Runner]:
    missing = set(SPECS) ^ set(IMPLEMENTATIONS)
    if missing:
        raise RuntimeError(f"tool specs and implementations disagree on: {sorted(missing)}")
    # One name for this process as a queue consumer and as the holder of its calls' claims, so
    # the transport's heartbeat and the claims agree on who is alive.
    me = worker_identity()
    app = make_celery(settings, consumer=me, is_running=running_here)
    # Celery keeps one result backend per thread, and under gevent every greenlet is a thread:
    # each call built (and connected) a new Redis backend, 8 % of the worker's CPU at 1,000
    # calls in flight. Its Redis client is thread-safe, so one backend serves them all.
    app.conf.result_backend_thread_safe = True
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
    claims = Claims(client, settings.exai_claim_ttl_s, owner=me)
    runner = Runner(settings, client, listener, providers.get, claims)
    recorder = WorkerTelemetry(settings, client, settings.exai_worker_concurrency)
    telemetry.install(recorder)

    for name, function in IMPLEMENTATIONS.items():
        _register(app, runner, name, function)
    runner.celery = app  # consensus sends its per-model sub-tasks through it
    register_consult(app, runner)
    supabase_sync.install(app, runner, settings)  # durable history, when SUPABASE_URL is set

    @app.task(name=NOOP_TASK, ignore_result=False, acks_late=False)
    def noop(value: Any = None) -> Any:
        """The raw Celery baseline the benchmark compares a tool call against."""
        return value

    consumers = Consumers(
        client, settings.exai_consumer_heartbeat_s, remember_s=2 * settings.exai_claim_ttl_s
    )
    heartbeat = ConsumerHeartbeat(consumers, me, settings.exai_consumer_heartbeat_s)
    app.steps["worker"].add(
        services_step(
            [
                heartbeat,
                Started(lambda _: claims.start()),  # alive until the process ends, like the heartbeat
                Started(lambda _: leases.start()),
                Started(lambda _: listener.start()),
                Started(lambda worker: _start_recorder(recorder, worker, settings), recorder.stop),
            ]
        )
    )
    _connect_signals(settings, runner)

    @worker_process_init.connect(weak=False)
    def _child_services(**_: Any) -> None:
        # A prefork child runs the tasks, so it holds the claims, leases and cancel tokens of its
        # calls: it needs its own threads for them (none survives the fork).
        claims.start()
        leases.start()
        listener.start()

    return app, runner


def _start_recorder(recorder: WorkerTelemetry, worker: Any, settings: Settings) -> None:
    recorder.concurrency = getattr(worker, "concurrency", None) or settings.exai_worker_concurrency
    recorder.start(getattr(worker, "hostname", None) or "")


def _register(app: Celery, runner: Runner, name: str, function: ToolFunction) -> None:
    @app.task(name=task_name(name), bind=True)
    def run_tool(self: Task, job: dict[str, Any]) -> str:
        return runner.run(self, job, function)


def _connect_signals(settings: Settings, runner: Runner) -> None:
    @setup_logging.connect(weak=False)
    def _logging(**_: Any) -> None:
        configure_logging(settings.log_level, settings.exai_log_format)

    @after_setup_logger.connect(weak=False)
    def _celery_logging(logger: logging.Logger, **_: Any) -> None:
        install_filter(logger)

    @task_revoked.connect(weak=False)
    def _revoked(request: Any = None, **_: Any) -> None:
        # Celery drops a revoked message without running the task; record the call as cancelled so
        # whoever asks for its result later gets an answer instead of waiting for its deadline.
        job = (getattr(request, "kwargs", None) or {}).get("job")
        if isinstance(job, dict):
            runner.record_cancelled(job)

    @worker_ready.connect(weak=False)
    def _ready(sender: Any = None, **_: Any) -> None:
        hostname = getattr(sender, "hostname", "?")
        # A start-up banner, printed whatever LOG_LEVEL is: supervisors and tests wait for it.
        print(
            f"exai worker ready: {hostname} pool={settings.exai_worker_pool} "
            f"concurrency={settings.exai_worker_concurrency}",
            file=sys.stderr,
            flush=True,
        )


_settings = load_settings()
app = build(_settings)[0]
tracing.setup(_settings, "exai-worker")
