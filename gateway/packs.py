"""The gateway's side of tool packs: loaded once per process, checked for what the gateway relies on.

``contracts.packs.import_packs`` checks names and duplicates; here, in addition, a pack must not
have pulled worker code into the gateway (its implementations belong inside ``register``), every
tool's input and output schemas must be valid JSON Schema (2020-12) objects, since the gateway
validates arguments with them, and prompt arguments must have distinct names. Problems are
``ConfigError``s naming the pack and module, raised at start-up rather than at the first call.
"""

from __future__ import annotations

import importlib
import sys

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from contracts.errors import ConfigError
from contracts.packs import LoadedPack, import_packs
from contracts.settings import Settings
from gateway.catalog import Catalog

WORKER_PACKAGE = "workers"


def load_packs(settings: Settings) -> tuple[LoadedPack, ...]:
    """The built-in pack and those of EXAI_TOOL_PACKS, checked for use by a gateway."""
    modules = settings.tool_pack_modules()
    for module in modules:
        _import_without_workers(module)
    packs = import_packs(modules)
    for entry in packs:
        _check_schemas(entry)
    return packs


def catalog(settings: Settings) -> Catalog:
    """The gateway's catalog of everything the packs offer."""
    return Catalog.from_packs(load_packs(settings), settings.exai_tools_page_size)


def _import_without_workers(module: str) -> None:
    before = _worker_modules()
    try:
        importlib.import_module(module)
    except Exception:  # import_packs imports it again and reports the error, naming the module
        return
    pulled = sorted(_worker_modules() - before)
    if pulled:
        shown = ", ".join(pulled[:3])
        raise ConfigError(
            f"EXAI_TOOL_PACKS: pack module {module!r} imports worker code at import time ({shown}); "
            "gateways load only specs: import implementations inside the pack's register()"
        )


def _worker_modules() -> set[str]:
    return {name for name in sys.modules if name == WORKER_PACKAGE or name.startswith(WORKER_PACKAGE + ".")}


def _check_schemas(entry: LoadedPack) -> None:
    where = f"EXAI_TOOL_PACKS: pack {entry.pack.name!r} ({entry.module})"
    for tool in entry.pack.tools:
        for label, schema in (("inputSchema", tool.input_schema), ("outputSchema", tool.output_schema)):
            if schema is None and label == "outputSchema":
                continue
            if not isinstance(schema, dict) or schema.get("type") != "object":
                raise ConfigError(
                    f"{where}: tool {tool.name!r}: {label} must be a JSON Schema with type object"
                )
            try:
                Draft202012Validator.check_schema(schema)
            except SchemaError as exc:
                raise ConfigError(
                    f"{where}: tool {tool.name!r}: {label} is not valid JSON Schema: {exc.message}"
                ) from None
    for prompt in entry.pack.prompts:
        names = [argument.name for argument in prompt.arguments]
        if len(names) != len(set(names)):
            raise ConfigError(f"{where}: prompt {prompt.name!r} names an argument twice")
