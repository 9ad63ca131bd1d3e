"""The Procfile, as honcho reads it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cli.main import build_parser

ROOT = Path(__file__).resolve().parents[2]


def test_every_procfile_line_runs_an_exai_command_that_exists() -> None:
    """Each process is `exai <command>` with a command the CLI knows."""
    commands = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    for line in (ROOT / "Procfile").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        _name, _, command = line.partition(":")
        words = command.split()
        assert words[0] == "exai" and words[1] in commands, line


def test_honcho_parses_the_procfile() -> None:
    """`honcho check` accepts the file."""
    honcho = shutil.which("honcho") or str(Path(sys.executable).with_name("honcho"))
    if not Path(honcho).exists():
        pytest.skip("honcho (pip) missing")
    done = subprocess.run([honcho, "check"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
