"""``prompts/list`` and ``prompts/get``: every tool as a prompt, and the packs' own prompts.

Handlers are plain async functions of ``(identity, params)`` that raise ``gateway.core.errors``;
the dispatcher adds ``resultType``, cache hints and era mapping around them. ``get`` may raise
``contracts.answers.NeedInput`` (a pack prompt asking the client first): the core answers it as
``input_required`` (modern) or with server→client requests (legacy), and calls ``get`` again with
the answers in ``params["inputResponses"]`` and the verified ``continuation``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from contracts.answers import NeedInput, missing_capability
from contracts.packs import PromptContext, PromptReply
from gateway.catalog import Catalog, InvalidCursor
from gateway.core.errors import InvalidParams, MissingCapability

Handler = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


class Prompts:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def handlers(self) -> dict[str, Handler]:
        return {"prompts/list": self.list, "prompts/get": self.get}

    async def list(self, identity: str, params: dict[str, Any]) -> dict[str, Any]:
        """One page of prompts: ``{"prompts": [...], "nextCursor"?}``."""
        del identity  # the same prompts for everyone
        cursor = params.get("cursor")
        if cursor is not None and not isinstance(cursor, str):
            raise InvalidParams("Invalid params: cursor must be a string from an earlier prompts/list")
        try:
            return self.catalog.prompts_page(cursor)
        except InvalidCursor as exc:
            raise InvalidParams(f"Invalid params: {exc}") from None

    async def get(
        self,
        identity: str,
        params: dict[str, Any],
        *,
        client_capabilities: Mapping[str, Any] | None = None,
        continuation: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The prompt rendered with its arguments: ``{"description"?, "messages": [...]}``."""
        del identity
        name = params.get("name")
        if not isinstance(name, str):
            raise InvalidParams("Invalid params: name must be a string naming a prompt of prompts/list")
        prompt = self.catalog.prompt(name)
        if prompt is None:
            raise InvalidParams(f"Invalid params: unknown prompt {name[:128]!r} (see prompts/list)")
        arguments = params.get("arguments") or {}
        if not isinstance(arguments, dict) or not all(isinstance(v, str) for v in arguments.values()):
            raise InvalidParams("Invalid params: arguments must be an object of strings")
        known = [argument.name for argument in prompt.arguments]
        unknown = sorted(set(arguments) - set(known))
        if unknown:
            takes = ", ".join(known) or "no arguments"
            raise InvalidParams(
                f"Invalid params: prompt {name!r} has no argument {unknown[0]!r} (it takes {takes})"
            )
        missing = [a.name for a in prompt.arguments if a.required and not arguments.get(a.name)]
        if missing:
            raise InvalidParams(f"Invalid params: argument {missing[0]!r} is required by prompt {name!r}")
        responses = params.get("inputResponses")
        context = PromptContext(
            client_capabilities=client_capabilities or {},
            input_responses=responses if isinstance(responses, dict) else None,
            continuation=continuation,
        )
        try:
            rendered: Any = prompt.render(dict(arguments), context)
            if isinstance(rendered, NeedInput):
                raise rendered
        except ValueError as exc:  # the prompt's own word on its arguments
            raise InvalidParams(f"Invalid params: {exc}") from None
        except NeedInput as need:
            lacking = need.missing_capabilities(context.client_capabilities)
            if lacking:  # a prompt may ask only through what the client declared
                failure = missing_capability(lacking, f"prompt {name!r}")
                raise MissingCapability(failure.message, lacking) from None
            raise
        if not isinstance(rendered, PromptReply):
            raise TypeError(f"prompt {name!r} rendered {type(rendered).__name__}, not a PromptReply")
        return rendered.to_mcp()
