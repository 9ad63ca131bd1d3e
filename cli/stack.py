"""``exai up``: the whole stack on one machine, as child processes stopped together."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

from pydantic import SecretStr

from cli.local_redis import LocalRedis, free_port
from contracts import local_token
from contracts.errors import ConfigError
from contracts.settings import Settings

log = logging.getLogger("exai.up")

EMULATOR_BANNER = """
==========================================================================
  No KIMI_API_KEY or GLM_API_KEY is set: the stack runs against the
  built-in provider EMULATOR at {url}. Replies are synthetic.
  Set a key (see .env.example) to use the real Kimi / GLM APIs.
==========================================================================
"""


def _child(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", *args], env=env)


TOKEN_LINE = (
    "clients authenticate with the token in {path} (exai call and exai stdio read it; "
    "EXAI_WS_TOKEN chooses one, EXAI_AUTH=none turns authentication off)\n"
)


def client_token_step(settings: Settings, env: dict[str, str]) -> Path | None:
    """With no token configured (and EXAI_AUTH=token), make sure the local token file holds one, and
    point every child at that same file. Returns its path, to print; never the token."""
    if not settings.uses_token_file():
        return None
    path = settings.token_file()
    local_token.ensure(path)
    env["EXAI_WS_TOKEN_FILE"] = str(path)
    return path


def run_stack(settings: Settings, *, workers: int = 1, state_dir: Path | None = None) -> int:
    env = dict(os.environ)
    try:
        token_file = client_token_step(settings, env)
    except ConfigError as exc:
        sys.stderr.write(f"exai up: {exc.message}\n")
        return 2
    if token_file is not None:
        sys.stderr.write(TOKEN_LINE.format(path=token_file))
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    local_redis: LocalRedis | None = None
    stopping = False

    def stop(_sig: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        if "REDIS_URL" not in os.environ:
            directory = state_dir or Path(tempfile.mkdtemp(prefix="exai-redis-"))
            local_redis = LocalRedis(directory).start()
            env["REDIS_URL"] = local_redis.url
            log.info("started a private Redis at %s (data in %s)", local_redis.url, directory)
        if not settings.configured_providers():
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            children.append(
                ("emulator", _child(["emulator", "--host", "127.0.0.1", "--port", str(port)], env))
            )
            env.update(
                KIMI_API_URL=f"{base}/v1",
                GLM_API_URL=f"{base}/api/paas/v4",
                KIMI_API_KEY="emulator-placeholder-key",
                GLM_API_KEY="emulator-placeholder-key",
            )
            sys.stderr.write(EMULATOR_BANNER.format(url=base))
        for index in range(workers):
            children.append((f"worker-{index + 1}", _child(["cli.main", "worker"], env)))
        children.append(("gateway", _child(["cli.main", "gateway"], env)))
        # Monitoring is auxiliary: if one of these stops (a port taken, say), calls go on.
        auxiliary = [("monitor", _child(["cli.main", "monitor"], env))]
        auxiliary.extend(_celery_monitoring(settings, env, state_dir))
        children.extend(auxiliary)
        log.info(
            "stack up: gateway on ws://%s:%d/ (Ctrl-C stops everything)",
            settings.exai_ws_host,
            settings.exai_ws_port,
        )
        while not stopping:
            for name, process in list(auxiliary):
                if process.poll() is not None:
                    log.warning("%s exited (code %s); the stack goes on without it", name, process.returncode)
                    auxiliary.remove((name, process))
            for name, process in children:
                if name not in _AUXILIARY and process.poll() is not None:
                    log.error("%s exited with code %s; stopping the stack", name, process.returncode)
                    return 1
            time.sleep(0.2)
        return 0
    finally:
        _stop_all(children)
        if local_redis is not None:
            local_redis.stop()


_AUXILIARY = frozenset({"monitor", "flower", "celery-exporter"})


def _celery_monitoring(
    settings: Settings, env: dict[str, str], state_dir: Path | None
) -> list[tuple[str, subprocess.Popen[bytes]]]:
    """Flower (behind basic auth) and celery-exporter, as far as they can run here."""
    from monitoring.sidecars import exporter_command, flower_command, generated_password

    started = []
    local = settings.model_copy(update={"redis_url": env["REDIS_URL"]})
    if local.exai_flower_password is None:
        # A password for this run only, kept in a file readable by this user, never printed.
        password = generated_password()
        folder = state_dir or Path(tempfile.mkdtemp(prefix="exai-flower-"))
        folder.mkdir(parents=True, exist_ok=True)
        secret_file = folder / "flower-password"
        secret_file.touch(mode=0o600)
        secret_file.write_text(password + "\n")
        local = local.model_copy(update={"exai_flower_password": SecretStr(password)})
        log.info(
            "Flower user %s; its generated password is in %s (set EXAI_FLOWER_PASSWORD to choose one)",
            local.exai_flower_user,
            secret_file,
        )
    argv, extra = flower_command(local)
    started.append(("flower", subprocess.Popen(argv, env={**env, **extra})))
    try:
        argv, extra = exporter_command(local)
    except ConfigError as exc:
        log.warning("celery-exporter not started: %s", exc.message)
    else:
        started.append(("celery-exporter", subprocess.Popen(argv, env={**env, **extra})))
    log.info(
        "monitoring: health :%d, metrics :%d, dashboard :%d, Flower :%d, celery-exporter :%d",
        settings.health_port,
        settings.metrics_port,
        settings.dashboard_port,
        settings.exai_flower_port,
        settings.exai_exporter_port,
    )
    return started


def _stop_all(children: list[tuple[str, subprocess.Popen[bytes]]], timeout: float = 15.0) -> None:
    for _, process in reversed(children):
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + timeout
    for name, process in reversed(children):
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in time; killing it", name)
            process.kill()
            process.wait()
