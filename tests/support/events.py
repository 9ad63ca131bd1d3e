"""Reading Celery's event stream straight off Redis, batches and all."""

from __future__ import annotations

import base64
import json
import threading
import time
from typing import Any

import redis

from tests.support.clients import raw_client


def events_in(raw: bytes) -> list[dict[str, Any]]:
    """The task events in one kombu fanout message (a batch is a list, a single event a dict)."""
    message = json.loads(raw)
    body = message["body"]
    if message.get("properties", {}).get("body_encoding") == "base64":
        body = base64.b64decode(body)
    decoded = json.loads(body)
    return [e for e in (decoded if isinstance(decoded, list) else [decoded]) if e["type"].startswith("task-")]


class EventTap:
    """Every task-event message published on the Redis fanout, read by a background thread."""

    def __init__(self, url: str) -> None:
        self.messages: list[list[dict[str, Any]]] = []
        self._pubsub = redis.Redis.from_url(url).pubsub(ignore_subscribe_messages=True)
        self._pubsub.psubscribe("*celeryev*")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            message = self._pubsub.get_message(timeout=0.1)
            if message and message["type"] == "pmessage" and (events := events_in(message["data"])):
                self.messages.append(events)

    def types_by_task(self) -> dict[str, set[str]]:
        seen: dict[str, set[str]] = {}
        for batch in list(self.messages):
            for event in batch:
                seen.setdefault(event["uuid"], set()).add(event["type"])
        return seen

    def wait_for(self, call_ids: list[str], types: set[str], timeout: float = 10) -> None:
        """Until every call has shown all ``types`` (or ``timeout``; the test's asserts then fail)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.types_by_task().get(c, set()) >= types for c in call_ids):
                return
            time.sleep(0.1)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._pubsub.close()


async def calls_at_once(url: str, count: int, prompt: str) -> list[str]:
    """Send ``count`` chat calls before reading any answer, so they run together; their call ids."""
    async with raw_client(url) as client:
        await client.initialize()
        for n in range(count):
            params = {"name": "chat", "arguments": {"prompt": f"{prompt} {n}"}}
            await client.send({"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": params})
        return [(await client.response(n))["result"]["_meta"]["io.exai/call_id"] for n in range(count)]
