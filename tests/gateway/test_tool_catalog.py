"""Tool listing and argument validation, from the specs only."""

from __future__ import annotations

import json

from gateway.tool_catalog import ToolCatalog


def test_nan_and_infinity_in_arguments_are_problems_naming_the_argument() -> None:
    """Python's parser accepts NaN/Infinity and a "number" schema too; validation refuses them by path."""
    arguments = json.loads(
        '{"prompt": "hi", "temperature": NaN, "images": [-Infinity], "x": {"y": Infinity}}'
    )
    problems = ToolCatalog().argument_errors("chat", arguments)
    assert "temperature: NaN is not a number JSON allows; send a finite number" in problems
    assert "images.0: -Infinity is not a number JSON allows; send a finite number" in problems
    assert "x.y: Infinity is not a number JSON allows; send a finite number" in problems


def test_finite_numbers_and_huge_integers_add_no_such_problem() -> None:
    """Only non-finite floats are refused this way; the schema still judges the rest."""
    catalog = ToolCatalog()
    assert catalog.argument_errors("chat", {"prompt": "hi", "temperature": 0.5}) == []
    problems = catalog.argument_errors("chat", {"prompt": "hi", "temperature": 10**30})
    assert problems and not any("JSON allows" in p for p in problems)
