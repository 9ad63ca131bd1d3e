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
