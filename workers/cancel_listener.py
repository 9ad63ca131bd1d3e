"""One subscription per worker process to the cancel channel, setting the tokens of running calls."""

from __future__ import annotations

import logging
import threading
import time

import redis

from contracts.names import CANCEL_CHANNEL
from workers.cancellation import CancelToken

log = logging.getLogger(__name__)


class CancelListener:
    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._tokens: dict[str, CancelToken] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def register(self, call_id: str) -> CancelToken:
        token = CancelToken()
        with self._lock:
            self._tokens[call_id] = token
        return token

    def unregister(self, call_id: str) -> None:
        with self._lock:
            self._tokens.pop(call_id, None)

    def cancel(self, call_id: str) -> None:
        with self._lock:
            token = self._tokens.get(call_id)
        if token is not None:
            log.info("cancelling running call %s", call_id)
            token.set()

    def start(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():  # none survives a fork
                return
            self._thread = threading.Thread(target=self._run, name="exai-cancel-listener", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        delay = 0.1
        while True:
            try:
                pubsub = self._client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
                pubsub.subscribe(CANCEL_CHANNEL)
                delay = 0.1
                for message in pubsub.listen():
                    data = message.get("data")
                    if isinstance(data, bytes):
                        self.cancel(data.decode())
            except Exception as exc:
                log.warning("cancel listener lost Redis (%s); reconnecting in %.1f s", exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
