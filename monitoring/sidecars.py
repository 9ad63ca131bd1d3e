"""Command lines of Celery's own monitoring: Flower and celery-exporter (danihodovic's).

Both are started the same way by ``exai up``, the Procfile (through ``exai flower`` and
``exai exporter``) and the tests. celery-exporter pins libraries this project cannot share (redis
< 6, an old prometheus-client, a top-level package named ``src``), so it runs from its own virtual
environment, made by ``make install`` (see the Makefile's ``.venv-exporter`` target).
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

from contracts.errors import ConfigError
from contracts.names import TOOL_QUEUE
from contracts.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[1]
EXPORTER_VENV = PROJECT_ROOT / ".venv-exporter"
EXPORTER_ENTRY = "from src.cli import cli; cli(auto_envvar_prefix='CE')"


def flower_command(settings: Settings, *, host: str | None = None) -> tuple[list[str], dict[str, str]]:
    """Flower's argv and the environment it adds; the credentials travel in the environment, not argv."""
    password = settings.exai_flower_password
    if password is None:
        raise ConfigError("EXAI_FLOWER_PASSWORD must be set: Flower runs only behind basic auth")
    argv = [
        sys.executable,
        "-m",
        "monitoring.flower_app",  # Flower itself, with /metrics behind its basic auth
        f"--address={host or settings.exai_monitor_host}",
        f"--port={settings.exai_flower_port}",
    ]
    env = {"FLOWER_BASIC_AUTH": f"{settings.exai_flower_user}:{password.get_secret_value()}"}
    return argv, env


def exporter_python(settings: Settings) -> Path:
    if settings.exai_exporter_python:
        return Path(settings.exai_exporter_python)
    return EXPORTER_VENV / "bin" / "python"


def exporter_command(settings: Settings, *, host: str | None = None) -> tuple[list[str], dict[str, str]]:
    """celery-exporter's argv and added environment (the broker URL, which may hold a password)."""
    python = exporter_python(settings)
    if not python.exists():
        raise ConfigError(
            f"celery-exporter's environment is missing ({python}); create it with `make install` "
            "or set EXAI_EXPORTER_PYTHON"
        )
    argv = [
        str(python),
        "-c",
        EXPORTER_ENTRY,
        "--host",
        host or settings.exai_monitor_host,
        "--port",
        str(settings.exai_exporter_port),
        "--queues",
        TOOL_QUEUE,
    ]
    return argv, {"CE_BROKER_URL": settings.redis_url}


def generated_password() -> str:
    """A password for a local Flower when none is configured."""
    return secrets.token_urlsafe(18)
