"""The one catalog of what the gateway offers: tools, prompts, resources and templates, from the packs.

Built from specs only (``gateway.packs`` loads them; nothing here imports a tool implementation).
Tools are listed in pages with opaque cursors and their arguments validated against their input
schemas; every tool is also a prompt of its name (the slash-command form desktop clients show),
beside the packs' own prompts. ``version`` counts list changes (a pack reloaded, or a test hook on
``LIST_CHANGED_CHANNEL``), so pre-encoded list pages can be dropped when it moves.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from jsonschema import Draft202012Validator

from contracts.packs import (
    LoadedPack,
    PromptArgument,
    PromptContext,
    PromptReply,
    PromptSpec,
    ResourceSpec,
    ResourceTemplateSpec,
)
from contracts.tools import SPECS, ToolSpec, canonical_tool_name


class InvalidCursor(ValueError):
    """Raised when a list cursor was not issued by this server."""


class Catalog:
    def __init__(
        self,
        specs: Mapping[str, ToolSpec] | None = None,
        page_size: int = 100,
        *,
        prompts: Iterable[PromptSpec] = (),
        resources: Iterable[ResourceSpec] = (),
        templates: Iterable[ResourceTemplateSpec] = (),
    ) -> None:
        self.specs = dict(SPECS if specs is None else specs)
        self.page_size = page_size
        self.version = 0
        self._listing = [spec.to_mcp() for spec in self.specs.values()]
        self._validators = {
            name: Draft202012Validator(spec.input_schema) for name, spec in self.specs.items()
        }
        # Tool prompts first, in tool order, then the packs' own.
        self.prompts: dict[str, PromptSpec] = {name: tool_prompt(spec) for name, spec in self.specs.items()}
        own = {prompt.name: prompt for prompt in prompts}
        self._tool_prompts = frozenset(self.specs) - set(own)
        self.prompts.update(own)
        self._prompt_listing = [prompt.to_mcp() for prompt in self.prompts.values()]
        self.resources = {resource.uri: resource for resource in resources}
        self.templates = tuple(templates)

    @classmethod
    def from_packs(cls, packs: Iterable[LoadedPack], page_size: int = 100) -> Catalog:
        loaded = [entry.pack for entry in packs]
        return cls(
            {tool.name: tool for pack in loaded for tool in pack.tools},
            page_size,
            prompts=[prompt for pack in loaded for prompt in pack.prompts],
            resources=[resource for pack in loaded for resource in pack.resources],
            templates=[template for pack in loaded for template in pack.resource_templates],
        )

    # --- tools ----------------------------------------------------------------------------
    def lookup(self, name: str) -> ToolSpec | None:
        return self.specs.get(canonical_tool_name(name))

    def page(self, cursor: str | None) -> dict[str, Any]:
        """One page of ``tools/list``: ``{"tools": [...], "nextCursor"?}``."""
        return _page(self._listing, "tools", cursor, self.page_size)

    def argument_errors(self, name: str, arguments: dict[str, Any]) -> list[str]:
        """Every way ``arguments`` break the tool's input schema, as sentences a person can fix."""
        out = [
            f"{where}: {json.dumps(value)} is not a number JSON allows; send a finite number"
            for where, value in _non_finite(arguments)[:10]
        ]
        errors = sorted(self._validators[name].iter_errors(arguments), key=lambda e: list(e.path))
        for err in errors[: 10 - len(out)]:
            where = ".".join(str(p) for p in err.path)
            out.append(f"{where}: {err.message}" if where else err.message)
        return out

    def expected_duration(self, name: str, arguments: Mapping[str, Any]) -> float:
        """The tool's typical duration for these arguments, in seconds (for the task decision)."""
        spec = self.lookup(name)
        return 0.0 if spec is None else spec.expected_duration(arguments)

    # --- prompts --------------------------------------------------------------------------
    def prompt(self, name: str) -> PromptSpec | None:
        return self.prompts.get(name)

    def prompts_page(self, cursor: str | None) -> dict[str, Any]:
        """One page of ``prompts/list``: ``{"prompts": [...], "nextCursor"?}``."""
        return _page(self._prompt_listing, "prompts", cursor, self.page_size)

    def is_tool_prompt(self, name: str) -> bool:
        """Whether prompt ``name`` is a tool's slash-command form (its arguments are the tool's)."""
        return name in self._tool_prompts

    # --- resources ------------------------------------------------------------------------
    def resource(self, uri: str) -> ResourceSpec | None:
        return self.resources.get(uri)

    def template_for(self, uri: str) -> tuple[ResourceTemplateSpec, dict[str, str]] | None:
        """The pack template ``uri`` belongs to, with the variables it gives, if any."""
        for template in self.templates:
            variables = template.match(uri)
            if variables is not None:
                return template, variables
        return None

    def template(self, uri_template: str) -> ResourceTemplateSpec | None:
        return next((t for t in self.templates if t.uri_template == uri_template), None)

    # --- list changes ---------------------------------------------------------------------
    def changed(self) -> int:
        """Note a list change (what the packs offer may differ now); returns the new version."""
        self.version += 1
        return self.version


def tool_prompt(spec: ToolSpec) -> PromptSpec:
    """The tool as a prompt: its top-level string and enum parameters are the prompt's arguments."""
    properties: dict[str, Any] = spec.input_schema.get("properties", {})
    required = set(spec.input_schema.get("required", []))
    arguments = tuple(
        PromptArgument(name, _argument_description(schema), name in required)
        for name, schema in properties.items()
        if isinstance(schema, dict) and schema.get("type") == "string"
    )
    # Required parameters a prompt cannot carry (numbers, booleans, lists): the model fills them in.
    others = sorted(required - {argument.name for argument in arguments})

    def render(values: dict[str, str], _: PromptContext) -> PromptReply:
        missing = [a.name for a in arguments if a.required and not values.get(a.name)]
        if missing:
            raise ValueError(f"argument {missing[0]!r} is required by prompt {spec.name!r}")
        lines = [f"Use the {spec.name} tool ({spec.title or spec.name}) of the exai-mcp server."]
        lines.append(spec.description)
        given = [(a.name, values[a.name]) for a in arguments if values.get(a.name)]
        if given:
            lines.append("Call it with these arguments:")
            lines.extend(f"- {name}: {value}" for name, value in given)
        if others:
            lines.append(f"Fill in its other required parameters yourself: {', '.join(others)}.")
        return PromptReply(
            messages=({"role": "user", "content": {"type": "text", "text": "\n".join(lines)}},),
            description=spec.title or spec.name,
        )

    return PromptSpec(
        name=spec.name, title=spec.title, description=spec.description, render=render, arguments=arguments
    )


def _argument_description(schema: dict[str, Any]) -> str:
    description = str(schema.get("description", ""))
    if "enum" in schema:
        choices = ", ".join(str(choice) for choice in schema["enum"])
        description = f"{description} One of: {choices}." if description else f"One of: {choices}."
    return description


def _page(listing: list[dict[str, Any]], kind: str, cursor: str | None, size: int) -> dict[str, Any]:
    offset = 0 if cursor is None else _decode_cursor(cursor, kind, len(listing))
    end = offset + size
    result: dict[str, Any] = {kind: listing[offset:end]}
    if end < len(listing):
        result["nextCursor"] = base64.urlsafe_b64encode(f"{kind}:{end}".encode()).decode()
    return result


def _decode_cursor(cursor: str, kind: str, size: int) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursor(f"invalid cursor {cursor[:64]!r}") from None
    prefix, _, number = text.partition(":")
    if prefix != kind or not number.isdigit() or int(number) > size:
        raise InvalidCursor(f"invalid cursor {cursor[:64]!r}")
    return int(number)


def _non_finite(arguments: dict[str, Any]) -> list[tuple[str, float]]:
    """Every NaN or ±Infinity in the arguments, by path: Python's JSON parser accepts them (and
    schemas of type "number" too), but no JSON peer can read them back, nor any provider."""
    found: list[tuple[str, float]] = []
    stack: list[tuple[str, Any]] = [(str(key), value) for key, value in arguments.items()]
    while stack:
        where, value = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            found.append((where, value))
        elif isinstance(value, dict):
            stack.extend((f"{where}.{key}", item) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((f"{where}.{index}", item) for index, item in enumerate(value))
    return sorted(found)
