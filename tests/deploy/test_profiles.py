"""deploy/profiles/*.env: each environment's settings pass `exai config --check`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROFILES = sorted((ROOT / "deploy" / "profiles").glob("*.env"))


def check(tmp_path: Path, env_file: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EXAI_", "KIMI_", "GLM_", "REDIS_"))}
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "config", "--check", "--env-file", str(env_file)],
        env={**env, "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )


def test_there_are_dev_staging_and_prod_profiles() -> None:
    """One profile per environment."""
    assert {p.stem for p in PROFILES} == {"dev", "staging", "prod"}


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.stem)
def test_each_profile_is_a_valid_configuration(tmp_path: Path, profile: Path) -> None:
    """`exai config --check --env-file` accepts it."""
    done = check(tmp_path, profile)
    assert done.returncode == 0, done.stderr


def test_an_invalid_profile_is_refused_with_the_variable_named(tmp_path: Path) -> None:
    """Exit 2 and a message naming the bad variable."""
    bad = tmp_path / "bad.env"
    bad.write_text("EXAI_CALL_TIMEOUT_S=-1\n")
    done = check(tmp_path, bad)
    assert done.returncode == 2 and "EXAI_CALL_TIMEOUT_S" in done.stderr
