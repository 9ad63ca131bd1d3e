"""Storing a call's outcome once and telling the waiting gateway about it."""

from __future__ import annotations

import redis

from contracts.job import Outcome, ProgressEvent, ResultEvent
from contracts.names import DONE_CHANNEL, result_key


def load(client: redis.Redis, call_id: str) -> Outcome | None:
    raw = client.get(result_key(call_id))
    return None if raw is None else Outcome.model_validate_json(raw)


def store_and_publish(client: redis.Redis, outcome: Outcome, reply_to: str | None, ttl: int) -> Outcome:
    """Keep the first outcome stored for a call (a redelivered run never replaces it) and publish it.

    Returns the outcome that is now authoritative, which is the earlier one if another run of the
    same call finished first.
    """
    key = result_key(outcome.call_id)
    stored = client.set(key, outcome.model_dump_json(), nx=True, ex=ttl)
    if not stored:
        earlier = load(client, outcome.call_id)
        if earlier is not None:
            outcome = earlier
    if reply_to:
        client.publish(reply_to, ResultEvent(call_id=outcome.call_id, outcome=outcome).model_dump_json())
    # Gateways waiting on a call they did not send (tasks/result after a reconnect or a gateway
    # restart) listen here, once per gateway, instead of on the original gateway's reply channel.
    client.publish(DONE_CHANNEL, outcome.call_id)
    return outcome


def publish_progress(client: redis.Redis, reply_to: str | None, event: ProgressEvent) -> None:
    if reply_to:
        client.publish(reply_to, event.model_dump_json())
