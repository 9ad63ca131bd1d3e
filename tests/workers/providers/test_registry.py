"""Building provider clients from the settings."""

from __future__ import annotations

import time
from typing import Any

import pytest

from contracts.errors import ConfigError, ProviderNotConfigured
from contracts.settings import Settings
from tests.support.emulator import running_emulator
from workers.providers.base import ChatRequest
from workers.providers.registry import make_client


def settings(**values: Any) -> Settings:
    """Settings from ``values`` only: no keys unless given, whatever the environment holds."""
    return Settings(_env_file=None, **{"KIMI_API_KEY": None, "GLM_API_KEY": None, **values})  # type: ignore[call-arg]


def test_a_provider_without_a_key_is_not_configured() -> None:
    """A missing key raises ProviderNotConfigured naming the variable to set."""
    with pytest.raises(ProviderNotConfigured, match="GLM_API_KEY"):
        make_client("glm", settings())


def test_an_unknown_provider_is_a_configuration_error() -> None:
    """Only kimi and glm have clients."""
    with pytest.raises(ConfigError, match="unknown provider"):
        make_client("openai", settings(KIMI_API_KEY="k"))


@pytest.mark.parametrize(("provider", "base"), [("kimi", "/v1"), ("glm", "/api/paas/v4")])
def test_clients_use_the_configured_url_and_key(provider: str, base: str) -> None:
    """The client talks to {PROVIDER}_API_URL with its key."""
    with running_emulator() as url:
        client = make_client(
            provider, settings(**{f"{provider.upper()}_API_KEY": "k", f"{provider}_api_url": url + base})
        )
        answer = client.chat(
            ChatRequest(model="m", messages=[{"role": "user", "content": "ping"}]),
            request_id="r",
            deadline=time.time() + 30,
        )
        client.close()
    assert (client.name, answer.text) == (provider, f"[emulated {provider} m] ping")
