"""``completion/complete``: argument values for prompts and resource templates.

For a tool's prompt: ``model`` → ``auto`` and the configured model names, ``thinking_mode`` → its
levels, ``continuation_id`` → the caller's own recent thread ids (never another identity's), any
other enum parameter → its values. For ``exai://threads/{continuation_id}`` → the caller's thread
ids. Pack prompts and templates complete through their own (pure) completers. Values start with
what was typed (case-insensitive), at most 100 (MCP's cap), with ``total`` and ``hasMore``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from contracts.packs import MAX_COMPLETIONS
from contracts.settings import Settings
from contracts.thread import ThreadReader
from contracts.tool_specs.common import THINKING_MODES
from gateway.catalog import Catalog
from gateway.core.errors import InvalidParams
from gateway.core.methods.resources import THREAD_TEMPLATE

Handler = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]
THREAD_ARGUMENT = "continuation_id"


class Completion:
    def __init__(self, catalog: Catalog, settings: Settings, threads: ThreadReader) -> None:
        self.catalog = catalog
        self.settings = settings
        self.threads = threads

    def handlers(self) -> dict[str, Handler]:
        return {"completion/complete": self.complete}

    async def complete(self, identity: str, params: dict[str, Any]) -> dict[str, Any]:
        """``{"completion": {"values": [...], "total": n, "hasMore": bool}}``."""
        ref, argument = params.get("ref"), params.get("argument")
        if not isinstance(argument, dict) or not isinstance(argument.get("name"), str):
            raise InvalidParams(
                "Invalid params: argument must be {name, value} naming the argument to complete"
            )
        name, value = argument["name"], argument.get("value", "")
        if not isinstance(value, str):
            raise InvalidParams("Invalid params: argument.value must be a string (what was typed so far)")
        context = params.get("context")
        given = context.get("arguments") if isinstance(context, dict) else None
        others = {k: v for k, v in (given or {}).items() if isinstance(k, str) and isinstance(v, str)}
        if not isinstance(ref, dict):
            shapes = '{"type": "ref/prompt", "name"} or {"type": "ref/resource", "uri"}'
            raise InvalidParams(f"Invalid params: ref must be {shapes}")
        if ref.get("type") == "ref/prompt":
            candidates = await self._prompt(identity, ref.get("name"), name, value, others)
        elif ref.get("type") == "ref/resource":
            candidates = await self._resource(identity, ref.get("uri"), name, value, others)
        else:
            raise InvalidParams('Invalid params: ref.type must be "ref/prompt" or "ref/resource"')
        return {"completion": _ranked(candidates, value)}

    async def _prompt(
        self, identity: str, prompt_name: Any, name: str, value: str, others: Mapping[str, str]
    ) -> Iterable[str]:
        prompt = self.catalog.prompt(prompt_name) if isinstance(prompt_name, str) else None
        if prompt is None:
            raise InvalidParams(
                f"Invalid params: unknown prompt {str(prompt_name)[:128]!r} (see prompts/list)"
            )
        if name not in {a.name for a in prompt.arguments}:
            raise InvalidParams(f"Invalid params: prompt {prompt.name!r} has no argument {name[:64]!r}")
        if self.catalog.is_tool_prompt(prompt.name):
            return await self._tool_argument(identity, prompt.name, name)
        return prompt.complete(name, value, others) if prompt.complete is not None else ()

    async def _tool_argument(self, identity: str, tool: str, name: str) -> Iterable[str]:
        if name == "model":
            return ["auto", *(model.name for model in self.settings.models())]
        if name == "thinking_mode":
            return THINKING_MODES
        if name == THREAD_ARGUMENT:
            return await self._thread_ids(identity)
        spec = self.catalog.lookup(tool)
        schema = spec.input_schema.get("properties", {}).get(name, {}) if spec is not None else {}
        return [str(choice) for choice in schema.get("enum", ())]

    async def _resource(
        self, identity: str, uri: Any, name: str, value: str, others: Mapping[str, str]
    ) -> Iterable[str]:
        if uri == THREAD_TEMPLATE:
            if name != THREAD_ARGUMENT:
                raise InvalidParams(f"Invalid params: {THREAD_TEMPLATE} has no variable {name[:64]!r}")
            return await self._thread_ids(identity)
        template = self.catalog.template(uri) if isinstance(uri, str) else None
        if template is None:
            if isinstance(uri, str) and self.catalog.resource(uri) is not None:
                return ()  # a plain resource has nothing to complete
            raise InvalidParams(f"Invalid params: unknown resource template {str(uri)[:200]!r}")
        if name not in template.variables:
            raise InvalidParams(f"Invalid params: {template.uri_template} has no variable {name[:64]!r}")
        return template.complete(name, value, others) if template.complete is not None else ()

    async def _thread_ids(self, identity: str) -> list[str]:
        threads = await self.threads.recent(identity, self.settings.exai_thread_resources_max)
        return [thread.id for thread in threads]


def _ranked(candidates: Iterable[str], typed: str) -> dict[str, Any]:
    wanted = typed.casefold()
    values = list(dict.fromkeys(c for c in candidates if c.casefold().startswith(wanted)))
    return {
        "values": values[:MAX_COMPLETIONS],
        "total": len(values),
        "hasMore": len(values) > MAX_COMPLETIONS,
    }
