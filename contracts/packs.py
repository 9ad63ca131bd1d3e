"""Tool packs: how tools, prompts and resources are added without touching the service (docs/tool-packs.md).

A pack is an importable module exposing ``PACK = ToolPack(...)``. Gateway processes read its specs,
prompts and resources; worker processes call ``PACK.register(app, runner)``, which registers each
tool's implementation as the Celery task ``exai.tool.<name>`` (``workers.packs.register_tools``).
So a pack module must not import worker code at import time: implementations are imported inside
``register``. The built-in tools are the ``exai`` pack (``contracts.builtin_pack``); the setting
``EXAI_TOOL_PACKS`` names more modules, and :func:`import_packs` loads and checks them all, failing
with a ``ConfigError`` that names the module (import error, missing ``PACK``, bad or duplicate
name).

Prompts and resources of a pack are pure functions run in the gateway: a prompt renders messages
from its arguments (and may ask the client for input with ``NeedInput``), a resource returns its
contents, a completer suggests argument values.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from contracts.answers import check_block
from contracts.errors import ConfigError
from contracts.tools import LEGACY_SUFFIXES, ToolSpec

BUILTIN_PACK = "contracts.builtin_pack"
PACK_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
# Tool and prompt names: what MCP clients accept everywhere (SEP-986 without "/", which would not
# survive every client's slash-command form) and short enough for any UI.
ITEM_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MODULE_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S{1,1000}$")
TEMPLATE_VARIABLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
RESERVED_SCHEME = "exai"  # the service's own resources (models, threads)
MAX_COMPLETIONS = 100  # MCP's cap on completion values

# (argument name, value typed so far, the other arguments already given) -> suggestions
Completer = Callable[[str, str, Mapping[str, str]], Sequence[str]]
# (app, runner): called in worker processes only; both are typed Any so packs need not import them
Register = Callable[[Any, Any], None]


@dataclass(frozen=True)
class PromptArgument:
    name: str
    description: str = ""
    required: bool = False

    def to_mcp(self) -> dict[str, Any]:
        listed: dict[str, Any] = {"name": self.name, "required": self.required}
        if self.description:
            listed["description"] = self.description
        return listed


@dataclass(frozen=True)
class PromptContext:
    """What a prompt's render sees besides its arguments (the client, and earlier input rounds)."""

    client_capabilities: Mapping[str, Any] = field(default_factory=dict)
    input_responses: Mapping[str, Any] | None = None
    continuation: dict[str, Any] | None = None


@dataclass(frozen=True)
class PromptReply:
    """``prompts/get``'s answer: messages of ``{"role": "user"|"assistant", "content": block}``."""

    messages: tuple[dict[str, Any], ...]
    description: str | None = None

    def __post_init__(self) -> None:
        if not self.messages:
            raise ValueError("a prompt renders at least one message")
        for index, message in enumerate(self.messages):
            if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
                raise ValueError(f"messages[{index}]: role must be 'user' or 'assistant'")
            check_block(message.get("content"), f"messages[{index}].content")

    def to_mcp(self) -> dict[str, Any]:
        result: dict[str, Any] = {"messages": list(self.messages)}
        if self.description:
            result["description"] = self.description
        return result


# (arguments, context) -> the rendered prompt; may raise NeedInput or ValueError (bad arguments)
Render = Callable[[dict[str, str], PromptContext], PromptReply]


@dataclass(frozen=True)
class PromptSpec:
    name: str
    description: str
    render: Render
    title: str = ""
    arguments: tuple[PromptArgument, ...] = ()
    complete: Completer | None = None

    def to_mcp(self) -> dict[str, Any]:
        listed: dict[str, Any] = {"name": self.name}
        if self.title:
            listed["title"] = self.title
        listed["description"] = self.description
        listed["arguments"] = [argument.to_mcp() for argument in self.arguments]
        return listed


# -> the resource's contents: [{"uri", "mimeType"?, "text" | "blob"}]
Read = Callable[[], list[dict[str, Any]]]
# (uri, template variables) -> contents; raise LookupError when the URI names nothing
ReadTemplate = Callable[[str, dict[str, str]], list[dict[str, Any]]]


@dataclass(frozen=True)
class ResourceSpec:
    uri: str
    name: str
    read: Read
    title: str = ""
    description: str = ""
    mime_type: str | None = None

    def to_mcp(self) -> dict[str, Any]:
        return _listed({"uri": self.uri, "name": self.name}, self.title, self.description, self.mime_type)


@dataclass(frozen=True)
class ResourceTemplateSpec:
    """A family of resources, ``uri_template`` with ``{variable}`` parts (RFC 6570 level 1)."""

    uri_template: str
    name: str
    read: ReadTemplate
    title: str = ""
    description: str = ""
    mime_type: str | None = None
    complete: Completer | None = None

    @property
    def variables(self) -> tuple[str, ...]:
        return tuple(TEMPLATE_VARIABLE.findall(self.uri_template))

    def match(self, uri: str) -> dict[str, str] | None:
        """The variables ``uri`` gives the template, or None if it is not one of its resources."""
        parts = re.split(r"(\{[A-Za-z_][A-Za-z0-9_]*\})", self.uri_template)
        pattern = "".join(
            f"(?P<{part[1:-1]}>[^/?#]+)" if TEMPLATE_VARIABLE.fullmatch(part) else re.escape(part)
            for part in parts
        )
        found = re.fullmatch(pattern, uri)
        return dict(found.groupdict()) if found else None

    def to_mcp(self) -> dict[str, Any]:
        base = {"uriTemplate": self.uri_template, "name": self.name}
        return _listed(base, self.title, self.description, self.mime_type)


@dataclass(frozen=True)
class ToolPack:
    """What a pack module exposes as ``PACK``."""

    name: str
    tools: tuple[ToolSpec, ...] = ()
    prompts: tuple[PromptSpec, ...] = ()
    resources: tuple[ResourceSpec, ...] = ()
    resource_templates: tuple[ResourceTemplateSpec, ...] = ()
    register: Register | None = None


@dataclass(frozen=True)
class LoadedPack:
    pack: ToolPack
    module: str


def pack_modules(setting: str | None) -> tuple[str, ...]:
    """The modules ``EXAI_TOOL_PACKS`` names, in order; ValueError for a malformed entry."""
    modules: list[str] = []
    for item in (part.strip() for part in (setting or "").split(",")):
        if not item:
            continue
        if not MODULE_PATH.match(item):
            raise ValueError(f"{item!r} is not an importable module path (write package.module)")
        if item in modules or item == BUILTIN_PACK:
            raise ValueError(f"{item!r} is named twice (the built-in pack {BUILTIN_PACK} is always loaded)")
        modules.append(item)
    return tuple(modules)


def import_packs(modules: Sequence[str]) -> tuple[LoadedPack, ...]:
    """The built-in pack, then each module's ``PACK``, checked together (see the module doc)."""
    loaded = [LoadedPack(_import(module), module) for module in (BUILTIN_PACK, *modules)]
    _check_names(loaded)
    return tuple(loaded)


def _import(module: str) -> ToolPack:
    where = f"EXAI_TOOL_PACKS: pack module {module!r}"
    try:
        imported = importlib.import_module(module)
    except Exception as exc:  # whatever the module raises, the operator needs to hear which one
        raise ConfigError(f"{where} cannot be imported: {type(exc).__name__}: {exc}") from exc
    pack = getattr(imported, "PACK", None)
    if not isinstance(pack, ToolPack):
        found = type(pack).__name__
        raise ConfigError(f"{where} must define PACK = ToolPack(...) (contracts.packs), found {found}")
    return pack


def _check_names(loaded: list[LoadedPack]) -> None:
    owners: dict[tuple[str, str], str] = {}

    def claim(kind: str, name: str, entry: LoadedPack) -> None:
        here = f"pack {entry.pack.name!r} ({entry.module})"
        earlier = owners.get((kind, name))
        if earlier is not None:  # a second claim, by another pack or by the same one
            where = "twice by that pack" if earlier == here else f"by {earlier}"
            raise ConfigError(f"EXAI_TOOL_PACKS: {kind} {name!r} of {here} is already offered {where}")
        owners[(kind, name)] = here

    for entry in loaded:
        pack, where = entry.pack, f"EXAI_TOOL_PACKS: pack {entry.pack.name!r} ({entry.module})"
        if not PACK_NAME.match(pack.name):
            raise ConfigError(f"{where}: a pack name is 1-32 of [a-z0-9_-], starting with a letter")
        claim("pack", pack.name, entry)
        for tool in pack.tools:
            _check_item_name(where, "tool", tool.name)
            if tool.name.endswith(LEGACY_SUFFIXES):
                suffixes = ", ".join(LEGACY_SUFFIXES)
                raise ConfigError(
                    f"{where}: tool {tool.name!r} ends with an old client's suffix ({suffixes})"
                )
            claim("tool", tool.name, entry)
            claim("prompt", tool.name, entry)  # every tool is also a prompt of its name
        for prompt in pack.prompts:
            _check_item_name(where, "prompt", prompt.name)
            claim("prompt", prompt.name, entry)
        for resource in pack.resources:
            _check_uri(where, resource.uri)
            claim("resource", resource.uri, entry)
        for template in pack.resource_templates:
            _check_uri(where, template.uri_template)
            if not template.variables:
                raise ConfigError(f"{where}: resource template {template.uri_template!r} has no {{variable}}")
            claim("resource template", template.uri_template, entry)
        if pack.tools and pack.register is None:
            raise ConfigError(f"{where} offers tools but no register(app, runner) implementing them")


def _check_item_name(where: str, kind: str, name: str) -> None:
    if not isinstance(name, str) or not ITEM_NAME.match(name):
        raise ConfigError(f"{where}: {kind} name {name!r} must be 1-64 of [A-Za-z0-9_.-]")


def _check_uri(where: str, uri: str) -> None:
    if not isinstance(uri, str) or not URI.match(uri):
        raise ConfigError(f"{where}: {uri!r} is not a URI (scheme:rest, no spaces, at most 1000 characters)")
    if uri.split(":", 1)[0].lower() == RESERVED_SCHEME:
        scheme = RESERVED_SCHEME
        raise ConfigError(f"{where}: the {scheme}: scheme is the service's own; use another for {uri!r}")


def _listed(base: dict[str, Any], title: str, description: str, mime_type: str | None) -> dict[str, Any]:
    if title:
        base["title"] = title
    if description:
        base["description"] = description
    if mime_type:
        base["mimeType"] = mime_type
    return base
