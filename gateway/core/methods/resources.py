"""``resources/list``, ``resources/templates/list`` and ``resources/read``.

The service's own resources: ``exai://models`` (the configured models and their context windows,
the same for everyone) and ``exai://threads/{continuation_id}`` (a conversation thread, read-only,
readable by the identity that owns it only — another identity's thread is not found, exactly like a
missing one). ``resources/list`` shows the models, the packs' resources and the caller's most
recent threads (EXAI_THREAD_RESOURCES_MAX). A URI that names nothing the caller may read raises
``ResourceNotFound`` (-32602 with ``data.uri`` on modern requests, -32002 on legacy ones).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable
from typing import Any

from contracts.settings import Settings
from contracts.thread import Thread, ThreadReader
from gateway.catalog import Catalog
from gateway.core.errors import InvalidParams, ResourceNotFound

Handler = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]

JSON = "application/json"
MODELS_URI = "exai://models"
THREADS_PREFIX = "exai://threads/"
THREAD_TEMPLATE = THREADS_PREFIX + "{continuation_id}"
THREAD_ID_MAX = 128  # continuation_id's maxLength in the tool schemas
MODELS_LISTING = {
    "uri": MODELS_URI,
    "name": "models",
    "title": "Configured models",
    "description": "The models this server can use, by provider, with their context windows.",
    "mimeType": JSON,
}
THREAD_TEMPLATE_LISTING = {
    "uriTemplate": THREAD_TEMPLATE,
    "name": "thread",
    "title": "Conversation thread",
    "description": "One of your conversation threads by its continuation_id: turns and workflow state.",
    "mimeType": JSON,
}


class Resources:
    def __init__(self, catalog: Catalog, settings: Settings, threads: ThreadReader) -> None:
        self.catalog = catalog
        self.settings = settings
        self.threads = threads

    def handlers(self) -> dict[str, Handler]:
        return {
            "resources/list": self.list,
            "resources/templates/list": self.templates,
            "resources/read": self.read,
        }

    async def list(self, identity: str, params: dict[str, Any]) -> dict[str, Any]:
        """Everything the caller can read: one page (the list is short by construction)."""
        _no_cursor(params, "resources/list")
        listed: list[dict[str, Any]] = [MODELS_LISTING]
        listed.extend(resource.to_mcp() for resource in self.catalog.resources.values())
        recent = await self.threads.recent(identity, self.settings.exai_thread_resources_max)
        listed.extend(_thread_listing(thread) for thread in recent)
        return {"resources": listed}

    async def templates(self, identity: str, params: dict[str, Any]) -> dict[str, Any]:
        del identity
        _no_cursor(params, "resources/templates/list")
        return {"resourceTemplates": [THREAD_TEMPLATE_LISTING, *(t.to_mcp() for t in self.catalog.templates)]}

    async def read(self, identity: str, params: dict[str, Any]) -> dict[str, Any]:
        """``{"contents": [...]}`` of the resource ``params["uri"]`` names, if the caller may read it."""
        uri = params.get("uri")
        if not isinstance(uri, str) or not uri:
            raise InvalidParams("Invalid params: uri must be a string naming a resource (see resources/list)")
        if uri == MODELS_URI:
            return {"contents": [_json_contents(uri, self._models())]}
        if uri.startswith(THREADS_PREFIX):
            thread_id = uri[len(THREADS_PREFIX) :]
            thread = None
            if 0 < len(thread_id) <= THREAD_ID_MAX and "/" not in thread_id:
                thread = await self.threads.get(identity, thread_id)
            if thread is None:
                raise ResourceNotFound(uri)
            return {"contents": [_json_contents(uri, thread.public_view())]}
        resource = self.catalog.resource(uri)
        if resource is not None:
            return {"contents": resource.read()}
        found = self.catalog.template_for(uri)
        if found is not None:
            template, variables = found
            try:
                return {"contents": template.read(uri, variables)}
            except LookupError:
                raise ResourceNotFound(uri) from None
        raise ResourceNotFound(uri)

    def _models(self) -> dict[str, Any]:
        configured = set(self.settings.configured_providers())
        return {
            "default_model": self.settings.default_model,
            "providers": list(self.settings.provider_order()),
            "models": [
                {
                    "name": model.name,
                    "provider": model.provider,
                    "context_window": model.context_window,
                    "configured": model.provider in configured,
                }
                for model in self.settings.models()
            ],
        }


def _no_cursor(params: dict[str, Any], method: str) -> None:
    if params.get("cursor") is not None:
        raise InvalidParams(f"Invalid params: {method} has a single page; this cursor was not issued by it")


def _json_contents(uri: str, value: Any) -> dict[str, Any]:
    return {"uri": uri, "mimeType": JSON, "text": json.dumps(value, ensure_ascii=False)}


def _thread_listing(thread: Thread) -> dict[str, Any]:
    first = next((turn.content for turn in thread.turns if turn.role == "user"), "")
    opening = " ".join(first.split())[:80]
    when = dt.datetime.fromtimestamp(thread.updated_at, dt.UTC).isoformat(timespec="seconds")
    return {
        "uri": THREADS_PREFIX + thread.id,
        "name": f"thread-{thread.id[:8]}",
        "title": f"{thread.tool}: {opening}" if opening else f"{thread.tool} conversation",
        "description": f"{len(thread.turns)} turns, last at {when.replace('+00:00', 'Z')}",
        "mimeType": JSON,
    }
