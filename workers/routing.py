"""Choosing the provider and model for a call."""

from __future__ import annotations

from contracts.errors import InvalidArguments, ProviderNotConfigured
from contracts.models import ModelInfo
from contracts.settings import Settings


def resolve_model(requested: str | None, settings: Settings) -> ModelInfo:
    """The model a call runs on: the one asked for, or the default for ``auto``/none.

    ``auto`` takes DEFAULT_MODEL when that names a model, else the default model of the first
    provider in EXAI_PROVIDERS that has an API key.
    """
    catalogue = {m.name: m for m in settings.models()}
    name = requested or settings.default_model
    if name == "auto":
        name = settings.default_model
    if name == "auto":
        configured = settings.configured_providers()
        if not configured:
            raise ProviderNotConfigured(
                "no provider is configured: set KIMI_API_KEY or GLM_API_KEY (or run `exai up`, which "
                "starts the provider emulator when no key is set)"
            )
        name = getattr(settings, f"{configured[0]}_default_model")
    model = catalogue.get(name)
    if model is None:
        raise InvalidArguments(
            f"unknown model {name!r}; choose 'auto' or one of: {', '.join(sorted(catalogue))} "
            "(the listmodels tool shows them)"
        )
    if settings.api_key(model.provider) is None:
        raise ProviderNotConfigured(
            f"model {name!r} is served by {model.provider}, which has no API key: set "
            f"{model.provider.upper()}_API_KEY or pick a model of another provider"
        )
    return model
