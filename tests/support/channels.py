"""Listening to Redis channels in a test: subscribed before anything is published, read with a bound."""

from __future__ import annotations

import time
from typing import Any

import redis

WAIT_S = 5.0  # the longest a test waits for a subscription or a message


def listen(client: redis.Redis, *channels: str) -> Any:
    """A subscription to ``channels``, returned once Redis confirmed every one of them."""
    pubsub = client.pubsub()
    pubsub.subscribe(*channels)
    confirmed = 0
    deadline = time.monotonic() + WAIT_S
    while confirmed < len(channels) and time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.1)
        confirmed += message is not None and message["type"] == "subscribe"
    assert confirmed == len(channels), f"the subscription was not confirmed within {WAIT_S} s"
    return pubsub


def messages(pubsub: Any, count: int) -> list[str]:
    """The next ``count`` messages published on the subscribed channels, in order."""
    out: list[str] = []
    deadline = time.monotonic() + WAIT_S
    while len(out) < count and time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.1)
        if message is not None and message["type"] == "message":
            out.append(message["data"].decode())
    assert len(out) == count, f"expected {count} messages within {WAIT_S} s, got {out}"
    return out
