"""`exai up`'s token step: with no token configured the stack's clients share the local token file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from cli.stack import client_token_step
from contracts.errors import ConfigError
from contracts.settings import load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("EXAI_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_with_no_token_the_file_is_made_and_every_child_is_pointed_at_it(tmp_path: Path) -> None:
    """The gateway and the stack's clients read one file; the step returns its path, to print."""
    path = tmp_path / "xdg" / "exai-mcp" / "ws-token"
    env: dict[str, str] = {}
    assert client_token_step(load_settings(exai_ws_token_file=str(path)), env) == path
    assert env == {"EXAI_WS_TOKEN_FILE": str(path)}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(path.read_text().strip()) >= 43


def test_a_configured_token_or_exai_auth_none_skips_the_file(tmp_path: Path) -> None:
    """EXAI_WS_TOKEN is used as it is; EXAI_AUTH=none needs no token at all."""
    path = tmp_path / "ws-token"
    for settings in (
        load_settings(exai_ws_token="cccccccccccccccc3", exai_ws_token_file=str(path)),
        load_settings(exai_auth="none", exai_ws_token_file=str(path)),
    ):
        env: dict[str, str] = {}
        assert client_token_step(settings, env) is None and env == {}
    assert not path.exists()


def test_an_unsafe_token_file_stops_the_step(tmp_path: Path) -> None:
    """A token file others can read is an error to fix, not a token to use."""
    path = tmp_path / "ws-token"
    path.write_text("readable-by-all-0123456789\n")
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        client_token_step(load_settings(exai_ws_token_file=str(path)), {})
