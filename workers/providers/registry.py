"""Which client serves which provider, built from the settings."""

from __future__ import annotations

from contracts.errors import ConfigError, ProviderNotConfigured
from contracts.settings import Settings
from workers.providers.base import ProviderClient
from workers.providers.classify import KEY_VARIABLES, display_name
from workers.providers.glm import GlmClient
from workers.providers.kimi import KimiClient
from workers.providers.openai_compat import OpenAICompatClient

CLIENTS: dict[str, type[OpenAICompatClient]] = {"kimi": KimiClient, "glm": GlmClient}


def make_client(provider: str, settings: Settings) -> ProviderClient:
    """A client for ``provider``; raises ProviderNotConfigured when its API key is not set."""
    client_class = CLIENTS.get(provider)
    if client_class is None:
        raise ConfigError(f"unknown provider {provider!r}; known: {', '.join(CLIENTS)}")
    key = settings.api_key(provider)
    if key is None or not key.get_secret_value():
        raise ProviderNotConfigured(
            f"{display_name(provider)} is not configured: set {KEY_VARIABLES[provider]} to use it"
        )
    return client_class(
        key.get_secret_value(),
        base_url=settings.api_url(provider),
        connect_timeout_s=settings.exai_provider_connect_timeout_s,
        read_timeout_s=settings.exai_provider_read_timeout_s,
        ca_file=settings.exai_provider_ca_file,
        keepalive_s=settings.exai_provider_keepalive_s,
        keepalive_max=settings.exai_provider_keepalive_max,
    )
