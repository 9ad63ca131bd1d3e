"""The gateway loads packs as specs only: worker code pulled in at import time, or a bad schema, stops it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from contracts.errors import ConfigError
from contracts.settings import load_settings
from gateway.packs import catalog, load_packs
from tests.support.pack_modules import good_pack, write_module

BAD_SCHEMA = """
from contracts.packs import ToolPack
from contracts.tools import ToolSpec
PACK = ToolPack(name="bad", register=lambda app, runner: None, tools=(
    ToolSpec(name="bad_schema", title="", description="d", input_schema={SCHEMA}),))
"""


def test_a_pack_loads_into_the_gateways_catalog_beside_the_builtin_tools(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its tool is listed and callable by name, its prompt and resource are offered."""
    module = good_pack(tmp_path, monkeypatch)
    offer = catalog(load_settings(exai_tool_packs=module))
    assert offer.lookup("say_hi") is not None and offer.lookup("chat") is not None
    assert "say_hi" in [tool["name"] for tool in offer.page(None)["tools"]]
    assert offer.prompt("say_hi_prompt") is not None and offer.resource("sample://sample/note") is not None


def test_a_pack_importing_worker_code_at_import_time_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gateway must not import tool implementations: the module and what it pulled in are named."""
    for name in [m for m in sys.modules if m == "workers" or m.startswith("workers.")]:
        monkeypatch.delitem(sys.modules, name)
    module = write_module(
        tmp_path, monkeypatch, "import workers.backoff\n" + good_source(tmp_path, monkeypatch)
    )
    with pytest.raises(ConfigError, match=rf"'{module}' imports worker code at import time \(workers"):
        load_packs(load_settings(exai_tool_packs=module))


def good_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    name = good_pack(tmp_path, monkeypatch, pack="wrapped", tool="wrapped_tool")
    return (tmp_path / f"{name}.py").read_text()


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ('{"type": "array"}', "inputSchema must be a JSON Schema with type object"),
        (
            '{"type": "object", "properties": {"x": {"type": "no-such-type"}}}',
            "inputSchema is not valid JSON Schema",
        ),
    ],
)
def test_a_tool_whose_schema_cannot_validate_arguments_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, schema: str, message: str
) -> None:
    """The gateway validates every call with the schema, so a broken one fails at start-up."""
    module = write_module(tmp_path, monkeypatch, BAD_SCHEMA.replace("{SCHEMA}", schema))
    with pytest.raises(ConfigError, match=rf"pack 'bad' \({module}\): tool 'bad_schema': {message}"):
        load_packs(load_settings(exai_tool_packs=module))
