"""Loading tool packs: the built-in pack first, then EXAI_TOOL_PACKS, each problem a ConfigError naming it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, cast

import pytest
from celery import Celery

from contracts.errors import ConfigError
from contracts.names import task_name
from contracts.packs import PromptContext, ResourceTemplateSpec, import_packs, pack_modules
from contracts.settings import load_settings
from contracts.tools import SPECS
from gateway.packs import catalog
from tests.support.pack_modules import good_pack, write_module
from tests.workers.tool_context import CountingProvider, tool_context
from workers.packs import register_packs

HEADER = """
from contracts.packs import PromptReply, PromptSpec, ResourceSpec, ResourceTemplateSpec, ToolPack
from contracts.tools import ToolSpec
SCHEMA = {"type": "object", "properties": {}}
def tool(name):
    return ToolSpec(name=name, title="", description="d", input_schema=SCHEMA)
def register(app, runner):
    pass
"""


def pack_source(body: str) -> str:
    return HEADER + body


def test_the_builtin_pack_comes_first_and_holds_every_builtin_tool() -> None:
    """With no EXAI_TOOL_PACKS, only the exai pack: the 19 tools the service always had."""
    (builtin,) = import_packs(())
    assert builtin.pack.name == "exai" and builtin.module == "contracts.builtin_pack"
    assert {tool.name for tool in builtin.pack.tools} == set(SPECS)


def test_a_pack_module_adds_its_tools_prompts_and_resources_after_the_builtin_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sample pack loads as the second pack, its module recorded."""
    module = good_pack(tmp_path, monkeypatch)
    builtin, sample = import_packs((module,))
    assert (builtin.pack.name, sample.pack.name, sample.module) == ("exai", "sample", module)
    assert [t.name for t in sample.pack.tools] == ["say_hi"]
    assert [p.name for p in sample.pack.prompts] == ["say_hi_prompt"]


def test_a_module_that_cannot_be_imported_is_named_with_its_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Missing modules and modules that raise on import both name the module and the exception."""
    with pytest.raises(
        ConfigError, match=r"pack module 'no_such_pack_module' cannot be imported: ModuleNotFoundError"
    ):
        import_packs(("no_such_pack_module",))
    broken = write_module(tmp_path, monkeypatch, "raise RuntimeError('pack is broken')\n")
    with pytest.raises(ConfigError, match=rf"'{broken}' cannot be imported: RuntimeError: pack is broken"):
        import_packs((broken,))


def test_a_module_without_a_pack_says_what_it_must_define(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No PACK, or a PACK of the wrong type, is refused with the expected form."""
    module = write_module(tmp_path, monkeypatch, "PACK = {'name': 'x'}\n")
    with pytest.raises(
        ConfigError, match=r"must define PACK = ToolPack\(\.\.\.\) \(contracts.packs\), found dict"
    ):
        import_packs((module,))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('PACK = ToolPack(name="extra", tools=(tool("chat"),), register=register)',
         r"tool 'chat' of pack 'extra' \(.*\) is already offered by pack 'exai' \(contracts.builtin_pack\)"),
        ('PACK = ToolPack(name="exai")', r"pack 'exai' of pack 'exai' .* is already offered"),
        ('PACK = ToolPack(name="extra", tools=(tool("twin"), tool("twin")), register=register)',
         r"tool 'twin' of pack 'extra' .* is already offered twice by that pack"),
        ('PACK = ToolPack(name="extra", tools=(tool("has space"),), register=register)',
         r"tool name 'has space' must be 1-64 of \[A-Za-z0-9_.-\]"),
        ('PACK = ToolPack(name="extra", tools=(tool("x" * 65),), register=register)', r"must be 1-64"),
        ('PACK = ToolPack(name="extra", tools=(tool("ask_EXAI-WS"),), register=register)',
         r"ends with an old client's suffix"),
        ('PACK = ToolPack(name="Bad Name")', r"a pack name is 1-32 of \[a-z0-9_-\]"),
        ('PACK = ToolPack(name="extra", tools=(tool("lonely"),))',
         r"offers tools but no register\(app, runner\)"),
        ('PACK = ToolPack(name="extra", prompts=(PromptSpec(name="debug", description="d", render=None),))',
         r"prompt 'debug' of pack 'extra' .* is already offered by pack 'exai'"),
        ('PACK = ToolPack(name="extra", resources=(ResourceSpec(uri="exai://models", name="m", read=list),))',
         r"the exai: scheme is the service's own"),
        ('PACK = ToolPack(name="extra", resources=(ResourceSpec(uri="no scheme", name="m", read=list),))',
         r"'no scheme' is not a URI"),
        ('PACK = ToolPack(name="extra", resource_templates=(ResourceTemplateSpec("t://x", "t", read=None),))',
         r"resource template 't://x' has no \{variable\}"),
    ],
)  # fmt: skip
def test_a_bad_or_duplicate_name_is_refused_naming_the_pack_and_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, message: str
) -> None:
    """Every name the packs offer is checked, against the pattern and against every other pack."""
    module = write_module(tmp_path, monkeypatch, pack_source(body))
    with pytest.raises(ConfigError, match=message) as raised:
        import_packs((module,))
    assert module in str(raised.value) or "contracts.builtin_pack" in str(raised.value)


def test_two_packs_offering_the_same_tool_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second pack to name a tool is the one reported."""
    first = good_pack(tmp_path, monkeypatch, pack="first", tool="shared")
    second = good_pack(tmp_path, monkeypatch, pack="second", tool="shared")
    with pytest.raises(
        ConfigError, match=rf"tool 'shared' of pack 'second' \({second}\) is already offered by pack 'first'"
    ):
        import_packs((first, second))


def test_the_setting_lists_modules_and_refuses_malformed_or_repeated_ones() -> None:
    """EXAI_TOOL_PACKS is a comma list of module paths; a bad entry fails the settings, naming it."""
    assert pack_modules(" a.b , c ,") == ("a.b", "c")
    assert pack_modules(None) == ()
    assert load_settings(exai_tool_packs="tests.conformance.fixture_pack").tool_pack_modules() == (
        "tests.conformance.fixture_pack",
    )
    for bad, why in (("a/b.py", "not an importable module path"), ("a,a", "named twice"),
                     ("contracts.builtin_pack", "always loaded")):  # fmt: skip
        with pytest.raises(ConfigError, match=rf"EXAI_TOOL_PACKS: .*{why}"):
            load_settings(exai_tool_packs=bad)


def test_a_resource_template_matches_its_own_uris_and_gives_their_variables() -> None:
    """Level-1 templates: each {variable} is one path segment."""
    template = ResourceTemplateSpec("test://template/{id}/data", "t", read=lambda uri, variables: [])
    assert template.variables == ("id",)
    assert template.match("test://template/123/data") == {"id": "123"}
    assert template.match("test://template/1/2/data") is None
    assert template.match("test://template//data") is None
    assert template.match("test://other/123/data") is None


def test_the_example_pack_of_the_documentation_loads_and_its_tool_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/tool-packs.md's word_pack: loaded by a gateway, registered by a worker, its tool counts words."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "tool-packs.md").read_text()
    source = doc.split("<!-- example-pack -->", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    module = write_module(tmp_path, monkeypatch, source)
    offer = catalog(load_settings(exai_tool_packs=module))
    assert offer.lookup("word_count") is not None and offer.resource("words://about") is not None
    prompt = offer.prompt("summarise")
    assert (
        prompt is not None
        and "in 25 words"
        in prompt.render({"text": "t", "words": "25"}, PromptContext()).messages[0]["content"]["text"]
    )
    app = Celery("example-pack", set_as_current=False)
    register_packs(app, cast(Any, object()), import_packs((module,)))
    assert task_name("word_count") in app.tasks
    ctx = tool_context(load_settings(), CountingProvider())
    answer = sys.modules[module].word_count(ctx, {"text": "one two three"})
    assert answer.plain_text() == "3 words"
