"""Who hears of changes: ``subscriptions/listen`` streams (modern) and legacy sessions.

Fed by the reply listener, across gateway processes: a list change (``LIST_CHANGED_CHANNEL``: a
pack reloaded, or a test hook) reaches every listen stream whose filter asked for it and every
legacy session (``notifications/tools/list_changed`` …); a task's status change (its outcome, an
input round) reaches the listen streams watching its id as ``notifications/tasks`` carrying the
``DetailedTask``. Every frame on a listen stream carries its subscription id. A stream whose client
reads too slowly (more than ``max_backlog`` frames waiting) is ended rather than buffered forever.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from gateway.core import codec
from gateway.core.codec import SUBSCRIPTION_ID
from gateway.core.peer import Channel, RequestContext

log = logging.getLogger(__name__)

LIST_NOTIFICATIONS = {
    "tools": ("toolsListChanged", "notifications/tools/list_changed"),
    "prompts": ("promptsListChanged", "notifications/prompts/list_changed"),
    "resources": ("resourcesListChanged", "notifications/resources/list_changed"),
}


@dataclass(eq=False)
class Subscription:
    """One open ``subscriptions/listen`` request and what it agreed to receive."""

    ctx: RequestContext
    lists: frozenset[str]  # tools, prompts, resources
    uris: frozenset[str] = frozenset()
    task_ids: frozenset[str] = frozenset()
    listeners: Listeners | None = field(default=None, repr=False)

    def send(self, method: str, params: dict[str, Any]) -> None:
        if self.ctx.closed:
            return
        stamped = {**params, "_meta": {**params.get("_meta", {}), SUBSCRIPTION_ID: self.ctx.request_id}}
        self.ctx.sink.post(codec.notification(method, stamped))

    # --- Pending ------------------------------------------------------------------------------
    def cancel(self) -> None:
        self.abandon()

    def abandon(self) -> None:
        if self.listeners is not None:
            self.listeners.remove(self)
        self.ctx.drop()


class Listeners:
    """The listen streams and legacy sessions of one gateway process."""

    def __init__(self, max_streams: int, max_backlog: int) -> None:
        self.max_streams = max_streams
        self.max_backlog = max_backlog
        self.subscriptions: set[Subscription] = set()
        self.sessions: set[Channel] = set()

    def __len__(self) -> int:
        return len(self.subscriptions)

    def full(self) -> bool:
        return len(self.subscriptions) >= self.max_streams

    def add(self, subscription: Subscription) -> None:
        subscription.listeners = self
        self.subscriptions.add(subscription)

    def remove(self, subscription: Subscription) -> None:
        self.subscriptions.discard(subscription)

    def add_session(self, channel: Channel) -> None:
        """A legacy session hears of list changes on its own stream (its socket, its GET stream)."""
        self.sessions.add(channel)
        channel.closers.add(lambda: self.sessions.discard(channel))

    def watched_tasks(self) -> set[str]:
        return {task_id for sub in self.subscriptions for task_id in sub.task_ids}

    # --- events -------------------------------------------------------------------------------
    def list_changed(self, kind: str) -> None:
        names = LIST_NOTIFICATIONS.get(kind)
        if names is None:
            return
        method = names[1]
        for sub in tuple(self.subscriptions):
            if kind in sub.lists:
                self._deliver(sub, method, {})
        frame = codec.notification(method, {})
        for channel in tuple(self.sessions):
            if channel.sink is not None and channel.sink.open and not channel.closed:
                channel.sink.post(frame, droppable=True)

    def task_changed(self, task_id: str, detailed: dict[str, Any]) -> None:
        for sub in tuple(self.subscriptions):
            if task_id in sub.task_ids:
                self._deliver(sub, "notifications/tasks", detailed)

    def close_all(self, replies: Any) -> None:
        """The gateway stops: each stream gets its graceful end (a result naming it), then closes."""
        for sub in tuple(self.subscriptions):
            self.remove(sub)
            replies.result(sub.ctx, {"_meta": {SUBSCRIPTION_ID: sub.ctx.request_id}})

    def _deliver(self, sub: Subscription, method: str, params: dict[str, Any]) -> None:
        sink = sub.ctx.sink
        if sink.backlog > self.max_backlog:
            log.info("ended a listen stream of %s: its client reads too slowly", sub.ctx.identity)
            self.remove(sub)
            # The server ends a subscription by cancelling it (2026-07-28 cancellation), then the stream.
            params = {
                "requestId": sub.ctx.request_id,
                "reason": "the client read its notifications too slowly",
            }
            sink.post(codec.notification("notifications/cancelled", params))
            sub.ctx.drop()
            sink.end()
            return
        sub.send(method, params)
