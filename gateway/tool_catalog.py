"""The tools the gateway offers: listing with cursors and argument validation, from specs only."""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any

from jsonschema import Draft202012Validator

from contracts.tools import SPECS, ToolSpec, canonical_tool_name


class InvalidCursor(ValueError):
    """Raised when a tools/list cursor was not issued by this server."""


class ToolCatalog:
    def __init__(self, specs: dict[str, ToolSpec] | None = None, page_size: int = 100) -> None:
        self.specs = dict(SPECS if specs is None else specs)
        self.page_size = page_size
        self._listing = [spec.to_mcp() for spec in self.specs.values()]
        self._validators = {
            name: Draft202012Validator(spec.input_schema) for name, spec in self.specs.items()
        }

    def lookup(self, name: str) -> ToolSpec | None:
        return self.specs.get(canonical_tool_name(name))

    def page(self, cursor: str | None) -> dict[str, Any]:
        offset = 0 if cursor is None else _decode_cursor(cursor, len(self._listing))
        end = offset + self.page_size
        result: dict[str, Any] = {"tools": self._listing[offset:end]}
        if end < len(self._listing):
            result["nextCursor"] = base64.urlsafe_b64encode(f"tools:{end}".encode()).decode()
        return result

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


def _decode_cursor(cursor: str, size: int) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursor(f"invalid cursor {cursor[:64]!r}") from None
    prefix, _, number = text.partition(":")
    if prefix != "tools" or not number.isdigit() or int(number) > size:
        raise InvalidCursor(f"invalid cursor {cursor[:64]!r}")
    return int(number)
