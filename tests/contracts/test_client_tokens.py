"""Several named client tokens: parsing, validation without echoing a token, and the secrets list."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from contracts.errors import ConfigError
from contracts.settings import load_settings, parse_client_tokens


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("EXAI_", "KIMI_", "GLM_", "MOONSHOT", "ZHIPUAI")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_named_tokens_and_the_single_token_combine() -> None:
    """EXAI_WS_TOKENS names each client; EXAI_WS_TOKEN joins them as "default"."""
    settings = load_settings(
        exai_ws_tokens="alice:aaaaaaaaaaaaaaaa1, bob:bbbbbbbbbbbbbbbb2", exai_ws_token="cccccccccccccccc3"
    )
    assert settings.client_tokens() == {
        "alice": "aaaaaaaaaaaaaaaa1",
        "bob": "bbbbbbbbbbbbbbbb2",
        "default": "cccccccccccccccc3",
    }
    assert {"aaaaaaaaaaaaaaaa1", "bbbbbbbbbbbbbbbb2", "cccccccccccccccc3"} <= set(settings.secrets())
    assert "aaaaaaaaaaaaaaaa1" not in str(settings.public_view())


@pytest.mark.parametrize(
    "value",
    [
        "alice:short",
        "alice",
        "al ice:aaaaaaaaaaaaaaaa",
        "a:aaaaaaaaaaaaaaaa,a:bbbbbbbbbbbbbbbb",
        "a:xxxxxxxxxxxxxxxx,b:xxxxxxxxxxxxxxxx",
    ],
)
def test_bad_token_lists_are_refused_without_showing_a_token(value: str) -> None:
    """Too short, no name, a bad name, a name or token twice: refused, and no token is echoed."""
    with pytest.raises(ConfigError) as refused:
        load_settings(exai_ws_tokens=value)
    assert "EXAI_WS_TOKENS" in refused.value.message
    assert "aaaaaaaaaaaaaaaa" not in refused.value.message and "xxxxxxxxxxxxxxxx" not in refused.value.message
    assert "short" not in refused.value.message.replace("at least", "")


def test_empty_entries_are_ignored() -> None:
    """A trailing comma is not an error."""
    assert parse_client_tokens("alice:aaaaaaaaaaaaaaaa,") == {"alice": "aaaaaaaaaaaaaaaa"}


# --- the effective tokens: configured ones, else the local token file's, else (EXAI_AUTH=none) none ---
def test_with_no_token_configured_the_gateway_uses_the_local_token_file(tmp_path: Path) -> None:
    """EXAI_AUTH=token (the default) and no token: the file's token, made now, is the client `default`."""
    path = tmp_path / "cfg" / "ws-token"
    settings = load_settings(exai_ws_token_file=str(path))
    assert settings.exai_auth == "token" and settings.uses_token_file()
    tokens = settings.gateway_tokens()
    assert tokens == {"default": path.read_text().strip()}
    assert settings.gateway_tokens() == tokens  # the same file, the same token


def test_configured_tokens_win_and_leave_the_file_alone(tmp_path: Path) -> None:
    """EXAI_WS_TOKEN / EXAI_WS_TOKENS are used as they are; no file is made."""
    path = tmp_path / "ws-token"
    settings = load_settings(exai_ws_token="cccccccccccccccc3", exai_ws_token_file=str(path))
    assert settings.gateway_tokens() == {"default": "cccccccccccccccc3"} and not path.exists()
    named = load_settings(exai_ws_tokens="alice:aaaaaaaaaaaaaaaa1", exai_ws_token_file=str(path))
    assert named.gateway_tokens() == {"alice": "aaaaaaaaaaaaaaaa1"} and not path.exists()


def test_exai_auth_none_is_the_explicit_way_to_run_without_tokens(tmp_path: Path) -> None:
    """No tokens, no file; and a token set next to EXAI_AUTH=none is a contradiction, refused."""
    path = tmp_path / "ws-token"
    settings = load_settings(exai_auth="none", exai_ws_token_file=str(path))
    assert settings.gateway_tokens() == {} and not path.exists()
    with pytest.raises(ConfigError, match="EXAI_AUTH=none") as refused:
        load_settings(exai_auth="none", exai_ws_token="cccccccccccccccc3")
    assert "cccccccccccccccc3" not in refused.value.message
    with pytest.raises(ConfigError, match="EXAI_AUTH"):
        load_settings(exai_auth="off")


def test_clients_send_the_env_token_else_the_file_token_to_a_local_gateway_only(tmp_path: Path) -> None:
    """`exai call` / `exai stdio`: EXAI_WS_TOKEN first; the file's token never leaves this machine."""
    path = tmp_path / "ws-token"
    settings = load_settings(exai_ws_token_file=str(path))
    assert settings.client_token("ws://127.0.0.1:8079/") is None  # no file yet
    token = settings.gateway_tokens()["default"]
    for url in ("ws://127.0.0.1:8079/", "ws://localhost:9000/x", "ws://[::1]:8079/"):
        assert settings.client_token(url) == token, url
    assert settings.client_token("ws://gateway.example.com:8079/") is None
    chosen = load_settings(exai_ws_token="cccccccccccccccc3", exai_ws_token_file=str(path))
    assert chosen.client_token("ws://gateway.example.com:8079/") == "cccccccccccccccc3"


def test_the_token_file_defaults_under_xdg_config_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Unset EXAI_WS_TOKEN_FILE: $XDG_CONFIG_HOME/exai-mcp/ws-token; `~` in the setting is expanded."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert load_settings().token_file() == tmp_path / "exai-mcp" / "ws-token"
    assert load_settings(exai_ws_token_file="~/t").token_file() == Path.home() / "t"
