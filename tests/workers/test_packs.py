"""Workers register every pack's tools as Celery tasks, and refuse to start when one has no implementation."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest
from celery import Celery

from contracts.errors import ConfigError
from contracts.names import task_name
from contracts.packs import import_packs
from contracts.tools import SPECS
from tests.support.pack_modules import good_pack, write_module
from workers.packs import register_packs
from workers.runner import Runner

UNIMPLEMENTED = """
from contracts.packs import ToolPack
from contracts.tools import ToolSpec
PACK = ToolPack(name="half", register=lambda app, runner: None, tools=(
    ToolSpec(name="forgotten", title="", description="d", input_schema={"type": "object"}),))
"""


def test_every_tool_of_every_pack_becomes_the_task_that_runs_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The built-in tools and the sample pack's tool each have exai.tool.<name>."""
    app = Celery("packs-test", set_as_current=False)
    runner = cast(Runner, object())  # registering binds the runner; nothing runs here
    register_packs(app, runner, import_packs((good_pack(tmp_path, monkeypatch),)))
    expected = {task_name(name) for name in [*SPECS, "say_hi"]}
    assert expected <= set(app.tasks)


def test_a_pack_tool_without_an_implementation_stops_the_worker_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """register() that forgets a tool: ConfigError naming the pack, its module and the tool."""
    module = write_module(tmp_path, monkeypatch, UNIMPLEMENTED)
    app = Celery("packs-test", set_as_current=False)
    with pytest.raises(
        ConfigError,
        match=rf"pack 'half' \({module}\) offers tools its register\(\) did not implement: forgotten",
    ):
        register_packs(app, cast(Any, object()), import_packs((module,)))
