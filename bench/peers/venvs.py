"""Where the peers' own environments are (``make bench-peers`` makes them from PyPI)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENVS = ROOT / ".venv-bench"  # git-ignored; one environment per peer
# What each environment holds; the Makefile installs exactly these.
REQUIREMENTS = {"fastmcp": 'fastmcp[tasks]>=4,<5', "pal": "pal-mcp-server>=11.8,<11.9"}


def peer_python(peer: str) -> Path:
    return VENVS / peer / "bin" / "python"


def missing() -> list[str]:
    """The environments not installed yet, each with the command that makes it."""
    return [
        f"{VENVS / peer} (make bench-peers installs {spec!r} there)"
        for peer, spec in REQUIREMENTS.items()
        if not (VENVS / peer / ".installed").exists()
    ]
