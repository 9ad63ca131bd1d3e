"""Pack modules written for a test: real importable files, each under a name no other test uses."""

from __future__ import annotations

import itertools
import sys
import textwrap
from pathlib import Path

import pytest

_numbers = itertools.count()

# A minimal pack: one tool with its implementation registered in register(), one prompt, one resource.
GOOD_PACK = """
from contracts.packs import PromptArgument, PromptReply, PromptSpec, ResourceSpec, ToolPack
from contracts.tools import ToolSpec

def _register(app, runner):
    from workers.packs import register_tools
    register_tools(app, runner, {"{tool}": lambda ctx, args: {"status": "success", "content": "hi",
                                                           "content_type": "text", "metadata": {}}})

def _render(arguments, context):
    text = {"type": "text", "text": arguments.get("topic", "")}
    return PromptReply(messages=({"role": "user", "content": text},))

PACK = ToolPack(
    name="{pack}",
    tools=(ToolSpec(name="{tool}", title="", description="says hi",
                    input_schema={"type": "object", "properties": {}}),),
    prompts=(PromptSpec(name="{prompt}", description="a prompt", render=_render,
                        arguments=(PromptArgument("topic", required=True),)),),
    resources=(ResourceSpec(uri="sample://{pack}/note", name="note",
                            read=lambda: [{"uri": "sample://{pack}/note", "text": "n"}]),),
    register=_register,
)
"""


def write_module(directory: Path, monkeypatch: pytest.MonkeyPatch, source: str) -> str:
    """Write ``source`` as a fresh module importable from ``directory``; returns its name."""
    name = f"exai_test_pack_{next(_numbers)}"
    (directory / f"{name}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(directory))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return name


def good_pack(
    directory: Path, monkeypatch: pytest.MonkeyPatch, pack: str = "sample", tool: str = "say_hi"
) -> str:
    source = GOOD_PACK.replace("{pack}", pack).replace("{tool}", tool).replace("{prompt}", f"{tool}_prompt")
    return write_module(directory, monkeypatch, source)
