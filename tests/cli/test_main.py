"""The ``exai`` command as a user runs it: real processes, real ports."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import ManagedProcess


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("EXAI_", "KIMI_", "GLM_", "MOONSHOT_", "ZHIPUAI_", "REDIS_URL"))
    }
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")  # the token file goes here, never in ~/.config
    env.update(extra)
    return env


def exai(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=tmp_path,
        env=clean_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_config_check_names_the_bad_variable_and_exits_2(tmp_path: Path) -> None:
    """A bad port stops start-up with the variable's name."""
    done = exai(tmp_path, "config", "--check", EXAI_WS_PORT="70000")
    assert done.returncode == 2
    assert "EXAI_WS_PORT" in done.stderr


def test_config_prints_the_effective_settings_with_secrets_masked(tmp_path: Path) -> None:
    """Secrets show as stars; everything else as set."""
    done = exai(tmp_path, "config", KIMI_API_KEY="sk-secret-do-not-print", EXAI_WS_PORT="9001")
    assert done.returncode == 0, done.stderr
    view = json.loads(done.stdout)
    assert view["EXAI_WS_PORT"] == 9001
    assert view["KIMI_API_KEY"] == "********"
    assert "sk-secret-do-not-print" not in done.stdout + done.stderr


def test_call_reports_an_unreachable_gateway_clearly(tmp_path: Path) -> None:
    """No gateway: a one-line error and exit 1, no traceback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    done = exai(tmp_path, "call", "version", "--url", f"ws://127.0.0.1:{port}/", "--timeout", "5")
    assert done.returncode == 1
    assert done.stderr.startswith("exai call:")
    assert "Traceback" not in done.stderr


def test_call_refuses_a_token_file_other_users_can_read(tmp_path: Path) -> None:
    """An unsafe token file stops `exai call` before it connects, saying how to fix it (exit 2)."""
    path = tmp_path / "xdg" / "exai-mcp" / "ws-token"
    path.parent.mkdir(parents=True)
    path.write_text("readable-by-all-0123456789\n")
    path.chmod(0o644)
    done = exai(tmp_path, "call", "version", "--url", "ws://127.0.0.1:9/", "--timeout", "5")
    assert done.returncode == 2
    assert done.stderr.startswith("exai call: EXAI_WS_TOKEN_FILE") and "chmod 600" in done.stderr
    assert "readable-by-all" not in done.stderr and "Traceback" not in done.stderr


@pytest.mark.e2e
def test_up_runs_the_whole_stack_on_the_emulator_and_stops_it_on_ctrl_c(tmp_path: Path) -> None:
    """`exai up` with no keys, no REDIS_URL and no token: emulator banner, the token file's path (never
    the token), a call that needs that token and gets it from the file, clean shutdown."""
    env = clean_env(tmp_path, EXAI_WS_PORT="0", EXAI_HTTP_PORT="0", PYTHONUNBUFFERED="1")
    up = ManagedProcess(
        "up", ["-m", "cli.main", "up", "--state-dir", str(tmp_path / "redis")], env, tmp_path / "up.log"
    )
    token_file = tmp_path / "xdg" / "exai-mcp" / "ws-token"
    try:
        up.start(r"gateway listening on", timeout=60)
        log = up.text()
        assert "provider EMULATOR" in log
        assert f"clients authenticate with the token in {token_file}" in log
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        assert token_file.read_text().strip() not in log
        assert "auth required" in log
        url = up.wait_for(r"gateway listening on (ws://[\d.]+:\d+/)").group(1)
        redis_port = int(up.wait_for(r"private Redis at redis://127.0.0.1:(\d+)").group(1))
        up.wait_for(r"exai worker ready", timeout=60)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "cli.main",
                "call",
                "chat",
                "prompt=hello from the cli",
                "--url",
                url,
                "--timeout",
                "30",
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert "hello from the cli" in done.stdout
        # Another user's process (no token file of its own) is refused by the same gateway.
        stranger = exai(tmp_path, "call", "version", "--url", url, "--timeout", "10", XDG_CONFIG_HOME="/none")
        assert stranger.returncode == 1 and "HTTP 401" in stranger.stderr
        assert "Traceback" not in stranger.stderr
        assert token_file.read_text().strip() not in up.text()
        up.signal(signal.SIGINT)
        assert up.process is not None
        assert up.process.wait(30) == 0
        for port in (redis_port, int(url.rsplit(":", 1)[1].strip("/"))):
            with socket.socket() as sock, pytest.raises(OSError):
                sock.settimeout(1)
                sock.connect(("127.0.0.1", port))
    finally:
        up.stop()


def test_a_worker_whose_pack_cannot_load_says_so_in_one_line_and_exits_2(tmp_path: Path) -> None:
    """EXAI_TOOL_PACKS naming a missing module: the module and the error, no Celery traceback."""
    # An unreachable Redis: should the check ever be skipped, no worker consumes from a real one.
    done = exai(tmp_path, "worker", EXAI_TOOL_PACKS="no_such_pack_module", REDIS_URL="redis://127.0.0.1:1/0")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "exai worker: EXAI_TOOL_PACKS: pack module 'no_such_pack_module' cannot be imported: "
        "ModuleNotFoundError: No module named 'no_such_pack_module'"
    )


def test_exai_emulator_serves_https_with_the_ca_it_writes(tmp_path: Path) -> None:
    """`exai emulator --tls --ca-file F` passes the TLS options through: a client trusting F gets
    the models list over HTTPS."""
    import ssl

    import httpx

    ca_file = tmp_path / "emulator-ca.pem"
    emulator = ManagedProcess(
        "emulator",
        ["-m", "cli.main", "emulator", "--port", "0", "--tls", "--ca-file", str(ca_file), "--rtt-ms", "1"],
        clean_env(tmp_path),
        tmp_path / "emulator.log",
    )
    try:
        url = emulator.start(r"emulator listening on (https://[\d.]+:\d+)", timeout=30).group(1)
        answer = httpx.get(
            f"{url}/v1/models",
            headers={"Authorization": "Bearer any-key-the-emulator-accepts"},
            verify=ssl.create_default_context(cafile=ca_file), timeout=10)
        assert answer.status_code == 200
        assert answer.json()["data"]
    finally:
        emulator.stop()
