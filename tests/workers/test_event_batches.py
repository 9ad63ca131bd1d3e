"""Celery task events leave a gevent worker in batches, and every call's events are in them."""

from __future__ import annotations

import base64
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.support.clients import raw_client
from tests.support.stack import running_stack

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]
LIFECYCLE = {"task-received", "task-started", "task-succeeded"}


def _events(raw: bytes) -> list[dict[str, Any]]:
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
            if message and message["type"] == "pmessage" and (events := _events(message["data"])):
                self.messages.append(events)

    def types_by_task(self) -> dict[str, set[str]]:
        seen: dict[str, set[str]] = {}
        for batch in list(self.messages):
            for event in batch:
                seen.setdefault(event["uuid"], set()).add(event["type"])
        return seen

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._pubsub.close()


async def test_twenty_calls_at_once_send_their_task_events_in_a_few_batches(tmp_path: Path) -> None:
    with running_stack(tmp_path, EXAI_TASK_EVENT_BATCH_S="0.2") as stack:
        tap = EventTap(stack.env["REDIS_URL"])
        try:
            call_ids: list[str] = []
            async with raw_client(stack.authed_url) as client:
                await client.initialize()
                for n in range(20):  # all sent before any answer is read: they run at once
                    params = {"name": "chat", "arguments": {"prompt": f"batch {n}"}}
                    await client.send(
                        {"jsonrpc": "2.0", "id": f"c{n}", "method": "tools/call", "params": params}
                    )
                for n in range(20):
                    answer = await client.response(f"c{n}")
                    call_ids.append(answer["result"]["_meta"]["io.exai/call_id"])
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if all(tap.types_by_task().get(c, set()) >= LIFECYCLE for c in call_ids):
                    break
                time.sleep(0.1)
        finally:
            tap.close()
    seen = tap.types_by_task()
    assert len(call_ids) == 20
    assert all(seen.get(c, set()) >= LIFECYCLE for c in call_ids), seen
    ours = [b for b in tap.messages if any(e["uuid"] in call_ids for e in b)]
    assert max(len(b) for b in ours) > 1  # batched
    assert len(ours) < 3 * len(call_ids)  # fewer messages than events
