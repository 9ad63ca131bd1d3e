"""The service's version, from the installed package metadata."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

SERVER_NAME = "exai-mcp"

try:
    __version__ = version(SERVER_NAME)
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"
