"""``subscriptions/listen`` (modern) and the legacy ``resources/subscribe``/``unsubscribe``.

A listen request opens a stream that stays open: the server acknowledges first
(``notifications/subscriptions/acknowledged`` with the subset it agreed to and the subscription id,
which is the request's id), then sends only the notification types the client asked for, each
tagged with that id. It ends when the client closes the stream (HTTP) or cancels the request, or
when the server stops (a graceful completion result). ``taskIds`` (``notifications/tasks``) need
the tasks extension (``-32021`` otherwise). Resources here never change, so resource subscriptions
are accepted and simply never fire.
"""

from __future__ import annotations

from typing import Any

from gateway.core import codec
from gateway.core.codec import SUBSCRIPTION_ID, TASKS_EXTENSION
from gateway.core.dispatch import DEFERRED, Method
from gateway.core.eras import declares_extension
from gateway.core.errors import InvalidParams, LimitReached, MissingCapability
from gateway.core.listeners import Listeners, Subscription
from gateway.core.peer import RequestContext

LIST_FILTERS = {
    "toolsListChanged": "tools",
    "promptsListChanged": "prompts",
    "resourcesListChanged": "resources",
}


class Subscriptions:
    def __init__(self, listeners: Listeners) -> None:
        self.listeners = listeners

    def handlers(self) -> dict[str, Method]:
        return {
            "subscriptions/listen": Method(self.listen, legacy=False),
            "resources/subscribe": Method(self.subscribe, modern=False),
            "resources/unsubscribe": Method(self.subscribe, modern=False),
        }

    def listen(self, ctx: RequestContext, params: dict[str, Any]) -> Any:
        wanted = params.get("notifications", {})
        if not isinstance(wanted, dict):
            raise InvalidParams("Invalid params: notifications must be an object (the notification filter)")
        agreed: dict[str, Any] = {}
        lists = set()
        for key, kind in LIST_FILTERS.items():
            if wanted.get(key) is True:
                agreed[key] = True
                lists.add(kind)
        uris = _strings(wanted, "resourceSubscriptions")
        if uris:
            agreed["resourceSubscriptions"] = list(uris)
        task_ids = _strings(wanted, "taskIds")
        if task_ids:
            if not declares_extension(ctx.capabilities, TASKS_EXTENSION):
                raise MissingCapability(
                    f"taskIds need the {TASKS_EXTENSION} extension: declare it in clientCapabilities",
                    {"extensions": {TASKS_EXTENSION: {}}},
                )
            agreed["taskIds"] = list(task_ids)
        if self.listeners.full():
            raise LimitReached(
                f"this gateway holds {self.listeners.max_streams} listen streams (EXAI_LISTEN_MAX_STREAMS); "
                "retry later or on another gateway",
                5.0,
                "listen_streams",
            )
        subscription = Subscription(ctx, frozenset(lists), frozenset(uris), frozenset(task_ids))
        ctx.wait(subscription)
        self.listeners.add(subscription)
        ack = {"_meta": {SUBSCRIPTION_ID: ctx.request_id}, "notifications": agreed}
        ctx.sink.post(codec.notification("notifications/subscriptions/acknowledged", ack))
        return DEFERRED

    def subscribe(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """Legacy resources/(un)subscribe: accepted; the resources served never change."""
        uri = params.get("uri")
        if not isinstance(uri, str) or not uri:
            raise InvalidParams("Invalid params: uri must be a string naming a resource")
        return {}


def _strings(wanted: dict[str, Any], key: str) -> tuple[str, ...]:
    value = wanted.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidParams(f"Invalid params: notifications.{key} must be a list of strings")
    return tuple(dict.fromkeys(value))
