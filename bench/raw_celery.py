"""The raw Celery baselines: ``send_task`` + ``get`` of a no-op task, and the chat tool's own task
sent without the MCP front, on the same Redis and worker."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import redis
from celery import Celery

from contracts.job import Job, ResultEvent, decode_event
from contracts.names import NOOP_TASK, TOOL_QUEUE, reply_channel, task_name
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
    """No-op tasks per second with ``concurrency`` round trips in flight (one client app per thread)."""

    def open_client() -> tuple[Callable[[], object], Callable[[], None]]:
        app = app_for(redis_url)
        return (lambda: round_trip(app)), app.close

    return _rate(open_client, concurrency, total)


def _rate(
    open_client: Callable[[], tuple[Callable[[], object], Callable[[], None]]], concurrency: int, total: int
) -> float:
    """Round trips per second, ``concurrency`` threads each with a client of its own from
    ``open_client`` (a round trip, and how to close it), connected before the clock starts."""
    local = threading.local()
    closers: list[Callable[[], None]] = []

    def one(_: int) -> object:
        if not hasattr(local, "trip"):
            local.trip, close = open_client()
            closers.append(close)
            local.trip()  # connect before the clock matters
        return local.trip()

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(concurrency)))  # warm every thread's connections
        started = time.perf_counter()
        list(pool.map(one, range(total)))
        elapsed = time.perf_counter() - started
    for close in closers:
        close()
    return total / elapsed


class SameToolRoundTrip:
    """The chat tool's own Celery task sent straight to the queue, its outcome heard on a reply
    channel as the gateway hears it: what the MCP front adds is the difference to a full call."""

    def __init__(self, app: Celery, redis_url: str) -> None:
        self._app = app
        self._client = redis.Redis.from_url(redis_url)
        self._channel = reply_channel(f"bench-{uuid.uuid4().hex}")
        self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        self._pubsub.subscribe(self._channel)

    def __call__(self, prompt: str) -> float:
        call_id = uuid.uuid4().hex
        job = Job(
            call_id=call_id,
            tool="chat",
            arguments={"prompt": prompt},
            reply_to=self._channel,
            deadline=time.time() + 60,
            client="bench",
            correlation_id=call_id,
        )
        started = time.perf_counter()
        self._app.send_task(
            task_name("chat"), kwargs={"job": job.model_dump(mode="json")}, task_id=call_id, queue=TOOL_QUEUE
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            message = self._pubsub.get_message(timeout=1.0)
            if message is None:
                continue
            event = decode_event(message["data"])
            if isinstance(event, ResultEvent) and event.call_id == call_id:
                if event.outcome.is_error:
                    raise RuntimeError(f"the chat task failed: {event.outcome.text}")
                return time.perf_counter() - started
        raise TimeoutError("no outcome from the chat task within 60 s")

    def close(self) -> None:
        self._pubsub.close()
        self._client.close()


def same_tool_throughput(redis_url: str, concurrency: int, total: int) -> float:
    """Chat tasks per second sent straight to Celery, ``concurrency`` at a time (one client per thread)."""

    def open_client() -> tuple[Callable[[], object], Callable[[], None]]:
        app = app_for(redis_url)
        trip = SameToolRoundTrip(app, redis_url)

        def close() -> None:
            trip.close()
            app.close()

        return (lambda: trip("throughput")), close

    return _rate(open_client, concurrency, total)
