"""One Redis subscription per gateway process: everything the workers (and other gateways) say.

* the gateway's reply channel: progress and outcomes (terminal, or an input round) of its calls,
  handed to the in-flight registry synchronously;
* the done channel: every finished call id, for waits on calls this gateway did not send (a 2025
  ``tasks/result`` after a reconnect or a restart) and for listen streams watching a task;
* the input channel: a call's round that stopped to ask the client (``{call_id, round}``), for the
  same two;
* the list-change channel: ``tools``, ``prompts`` or ``resources`` — the catalog version moves and
  listen streams and legacy sessions are told.

When the subscription drops it comes back with backoff, and the next round of the sweep re-reads
every outcome that may have been missed meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis

from contracts.job import Outcome, ResultEvent, decode_event
from contracts.names import DONE_CHANNEL, INPUT_CHANNEL, LIST_CHANGED_CHANNEL, input_key, result_key
from gateway.catalog import Catalog
from gateway.core.inflight import InFlight
from gateway.core.listeners import Listeners
from gateway.core.ports import TaskStore
from gateway.core.task_views import detailed_task

log = logging.getLogger(__name__)
DONE, INPUT, CHANGED = DONE_CHANNEL.encode(), INPUT_CHANNEL.encode(), LIST_CHANGED_CHANNEL.encode()


class ReplyListener:
    def __init__(
        self,
        client: aioredis.Redis,
        channel: str,
        inflight: InFlight,
        listeners: Listeners,
        catalog: Catalog,
        store: TaskStore,
        poll_interval_ms: int,
        resweep: Callable[[], Awaitable[None]],
    ) -> None:
        self.redis = client
        self.channel = channel
        self.inflight = inflight
        self.listeners = listeners
        self.catalog = catalog
        self.store = store
        self.poll_interval_ms = poll_interval_ms
        self.resweep = resweep  # after a resubscription: re-read what may have been missed
        self.subscribed = asyncio.Event()
        self._fetches: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        delay = 0.1
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel, DONE_CHANNEL, INPUT_CHANNEL, LIST_CHANGED_CHANNEL)
                if self.subscribed.is_set():
                    log.info("reply channel resubscribed; re-reading results of calls in flight")
                    await self.resweep()
                self.subscribed.set()
                delay = 0.1
                async for message in pubsub.listen():
                    self.on_message(message["channel"], message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("reply channel lost (%s); resubscribing in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                with contextlib.suppress(Exception):  # the connection may already be gone
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    def on_message(self, channel: bytes, data: bytes) -> None:
        """One message from the subscription (public so the unit tests can feed it)."""
        try:
            if channel == DONE:
                self._done(data.decode(errors="replace"))
            elif channel == INPUT:
                announced = json.loads(data)
                self._input(str(announced["call_id"]), int(announced["round"]))
            elif channel == CHANGED:
                kind = data.decode(errors="replace")
                self.catalog.changed()
                self.listeners.list_changed(kind)
            else:
                event = decode_event(data)
                if isinstance(event, ResultEvent):
                    self.inflight.complete(event.call_id, event.outcome)
                else:
                    self.inflight.progress(event)
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed message on %s", channel.decode(errors="replace"))

    def _done(self, call_id: str) -> None:
        watched = call_id in self.inflight.watches
        if watched or call_id in self.listeners.watched_tasks():
            self._spawn(self._fetch(call_id, result_key(call_id), watched))

    def _input(self, call_id: str, round_: int) -> None:
        watched = call_id in self.inflight.watches
        if watched or call_id in self.listeners.watched_tasks():
            self._spawn(self._fetch(call_id, input_key(call_id, round_), watched))

    async def _fetch(self, call_id: str, key: str, watched: bool) -> None:
        try:
            raw = await self.redis.get(key)
            if raw is not None and watched:
                self.inflight.complete(call_id, Outcome.model_validate_json(raw))
            if call_id in self.listeners.watched_tasks():
                state = await self.store.state(call_id)
                if state is not None:
                    self.listeners.task_changed(call_id, detailed_task(state, self.poll_interval_ms))
        except Exception as exc:  # the sweep will find the outcome; a task note is best effort
            log.warning("could not read the state of %s: %s", call_id, exc)

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._fetches.add(task)  # keep a reference until it is done
        task.add_done_callback(self._fetches.discard)
