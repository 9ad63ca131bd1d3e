"""The worker side of tool packs: each pack's implementations become Celery tasks ``exai.tool.<name>``.

``register_packs`` calls every pack's ``register(app, runner)`` and then checks that each tool the
pack offers has its task, so a spec without an implementation stops the worker at start-up with
the pack and tool named, instead of leaving calls of that tool queued forever.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from celery import Celery, Task

from contracts.errors import ConfigError
from contracts.names import task_name
from contracts.packs import LoadedPack
from workers.runner import Runner
from workers.tools import ToolFunction


def register_tools(app: Celery, runner: Runner, implementations: Mapping[str, ToolFunction]) -> None:
    """Register each implementation as the Celery task that runs its tool through ``runner``."""
    for name, function in implementations.items():
        _register(app, runner, name, function)


def _register(app: Celery, runner: Runner, name: str, function: ToolFunction) -> None:
    # shared=False: the task belongs to this app only (tests build several apps in one process)
    @app.task(name=task_name(name), bind=True, shared=False)
    def run_tool(self: Task, job: dict[str, Any]) -> str:
        return runner.run(self, job, function)


def register_packs(app: Celery, runner: Runner, packs: Sequence[LoadedPack]) -> None:
    """Let every pack register its tools, then refuse to start if one of them has no task."""
    for entry in packs:
        if entry.pack.register is not None:
            entry.pack.register(app, runner)
        missing = [tool.name for tool in entry.pack.tools if task_name(tool.name) not in app.tasks]
        if missing:
            raise ConfigError(
                f"pack {entry.pack.name!r} ({entry.module}) offers tools its register() did not implement: "
                f"{', '.join(missing)} (register each with workers.packs.register_tools)"
            )
