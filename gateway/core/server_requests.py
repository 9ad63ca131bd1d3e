"""Legacy sessions: a tool's input requests asked as server→client requests, answers matched by id.

A 2025 client has no ``inputResponses``: when a round of a call (or a prompt) stops to ask
(``elicitation/create``, ``sampling/createMessage``, ``roots/list``), the gateway sends each
request to the client on the connection (on Streamable HTTP: the SSE stream of the request that
waits), and when every one is answered hands the answers on — the next round starts with them, and
the client finally gets the plain result. Nothing waits in a coroutine: the asked requests are
kept in the channel under our own ids, and :func:`answered` is called with each response.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gateway.core import codec
from gateway.core.codec import RELATED_TASK, Response
from gateway.core.peer import Channel, Sink

log = logging.getLogger(__name__)
ID_PREFIX = "exai-ask-"
_ids = itertools.count(1)

Answers = Callable[[dict[str, Any]], None]


@dataclass(eq=False)
class Batch:
    """One round's requests, answered together."""

    keys: tuple[str, ...]
    done: Answers
    answers: dict[str, Any] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)


def ask(
    channel: Channel,
    sink: Sink,
    requests: dict[str, dict[str, Any]],
    done: Answers,
    related_task: str | None = None,
) -> Batch:
    """Send ``requests`` (key → ``{method, params}``) to the client; ``done`` gets the answers by
    key once all have come (an error answer counts as an empty one: the tool asks again or gives up)."""
    batch = Batch(tuple(requests), done)
    for key, request in requests.items():
        request_id = f"{ID_PREFIX}{next(_ids)}"
        params = dict(request.get("params") or {})
        if related_task is not None:
            params["_meta"] = {**params.get("_meta", {}), RELATED_TASK: {"taskId": related_task}}
        channel.asked[request_id] = (batch, key)
        batch.ids.append(request_id)
        sink.post(codec.request(request_id, str(request["method"]), params))
    return batch


def forget(channel: Channel, batch: Batch) -> None:
    """Stop waiting for a batch's answers (its request was cancelled or its connection left)."""
    for request_id in batch.ids:
        channel.asked.pop(request_id, None)


def answered(channel: Channel, response: Response) -> None:
    """A client's response to one of our requests (unknown ids are ignored: a late answer)."""
    if not isinstance(response.id, str):
        return
    entry = channel.asked.pop(response.id, None)
    if entry is None:
        return
    batch, key = entry
    if isinstance(response.result, dict):
        batch.answers[key] = response.result
    else:
        log.info("the client answered input request %s with an error: %r", key, response.error)
        batch.answers[key] = {}
    if all(k in batch.answers for k in batch.keys):
        batch.done(batch.answers)
