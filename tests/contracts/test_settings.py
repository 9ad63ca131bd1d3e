"""Settings: old variable names, defaults, and start-up errors that name the bad variable."""

from __future__ import annotations

import pytest

from contracts.errors import ConfigError
from contracts.settings import load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: pytest.TempPathFactory) -> None:
    import os

    for name in list(os.environ):
        if name.startswith(
            (
                "EXAI_",
                "KIMI_",
                "GLM_",
                "REDIS_",
                "MOONSHOT",
                "ZHIPUAI",
                "DEFAULT_MODEL",
                "HEALTH_PORT",
                "METRICS_PORT",
                "DASHBOARD_PORT",
                "LOG_LEVEL",
            )
        ):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults_keep_the_old_ports() -> None:
    """Existing users keep 8079, 8081, 8000 and 8080."""
    s = load_settings()
    assert (s.exai_ws_port, s.health_port, s.metrics_port, s.dashboard_port) == (8079, 8081, 8000, 8080)


def test_old_alias_names_for_keys_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """MOONSHOT_API_KEY and ZHIPUAI_API_KEY still work."""
    monkeypatch.setenv("MOONSHOT_API_KEY", "k1")
    monkeypatch.setenv("ZHIPUAI_API_KEY", "k2")
    s = load_settings()
    assert s.configured_providers() == ("kimi", "glm")


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("EXAI_WS_PORT", "99999", "EXAI_WS_PORT"),
        ("HEALTH_PORT", "http", "HEALTH_PORT"),
        ("EXAI_WS_TOKEN", "short", "at least 16"),
        ("REDIS_URL", "http://localhost:6379", "REDIS_URL: scheme"),
        ("EXAI_PROVIDERS", "kimi,openai", "unknown provider 'openai'"),
        ("DEFAULT_MODEL", "gpt-9", "DEFAULT_MODEL: unknown model"),
        ("LOG_LEVEL", "chatty", "LOG_LEVEL"),
        ("KIMI_API_URL", "not a url", "KIMI_API_URL"),
        ("EXAI_CALL_TIMEOUT_S", "-1", "EXAI_CALL_TIMEOUT_S"),
        ("EXAI_PROVIDER_CA_FILE", "/nonexistent/ca.pem", "EXAI_PROVIDER_CA_FILE"),
        ("EXAI_PROVIDER_KEEPALIVE_S", "-1", "EXAI_PROVIDER_KEEPALIVE_S"),
    ],
)
def test_bad_values_fail_with_the_variable_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    """Every validation error names the environment variable to fix."""
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert expected in caught.value.message


def test_secrets_are_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither the public view nor an error message contains a secret."""
    monkeypatch.setenv("KIMI_API_KEY", "sk-very-secret-value")
    monkeypatch.setenv("REDIS_URL", "redis://:hunter2-password@127.0.0.1:6379/0")
    view = str(load_settings().public_view())
    assert "sk-very-secret-value" not in view and "hunter2-password" not in view
    monkeypatch.setenv("EXAI_WS_TOKEN", "tiny-secret")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "tiny-secret" not in caught.value.message


def test_visibility_timeout_outlasts_the_longest_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """By default the broker redelivers only after a call could have finished."""
    monkeypatch.setenv("EXAI_CALL_TIMEOUT_S", "100")
    assert load_settings().visibility_timeout_s > 100
    monkeypatch.setenv("EXAI_VISIBILITY_TIMEOUT_S", "50")
    with pytest.raises(ConfigError):
        load_settings()
