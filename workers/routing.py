"""Choosing the provider and model for a call, and falling back along a chain for ``auto``.

An explicit model is validated against the configured catalogue and used as it is. ``auto`` takes
the chain of models configured for what the tool needs (fast, long context, reasoning, web search,
vision), keeps the models whose provider has a key and whose circuit breaker is not open, and tries
them in order: a transient provider error, a missing key or an open breaker moves to the next one.
When the whole chain failed transiently, the last error is raised so the runner's retry (with
backoff, within the deadline) takes over.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TypeVar

import redis

from contracts.errors import InvalidArguments, ProviderError, ProviderNotConfigured
from contracts.models import ModelInfo
from contracts.names import breaker_key
from contracts.settings import Settings
from workers.breaker import KIND_CIRCUIT_OPEN

log = logging.getLogger(__name__)

NEEDS = ("default", "fast", "long_context", "reasoning", "web_search", "vision")
T = TypeVar("T")

# Built-in chains, used when EXAI_ROUTE_<NEED> is unset. Each mixes both providers so that one
# provider's outage leaves a model to fall back on.
BUILTIN_CHAINS: dict[str, tuple[str, ...]] = {
    "fast": ("glm-4.5-flash", "glm-4.5-air", "kimi-k2.6"),
    "long_context": ("kimi-k2.6", "kimi-k3", "glm-4.6"),
    "reasoning": ("kimi-k3", "glm-5", "kimi-k2.6", "glm-4.6"),
    "web_search": ("kimi-k2.6", "glm-4.6"),
    "vision": ("kimi-k2.6", "glm-4.6"),
}


def _no_provider() -> ProviderNotConfigured:
    return ProviderNotConfigured(
        "no provider is configured: set KIMI_API_KEY or GLM_API_KEY (or run `exai up`, which "
        "starts the provider emulator when no key is set)"
    )


def _default_chain(settings: Settings) -> list[str]:
    names = [] if settings.default_model == "auto" else [settings.default_model]
    return names + [getattr(settings, f"{p}_default_model") for p in settings.provider_order()]


def chain_for(need: str, settings: Settings) -> list[str]:
    """The model names ``auto`` tries for ``need``, best first, without duplicates."""
    configured: str | None = getattr(settings, f"exai_route_{need}", None)
    if configured:
        names = [n.strip() for n in configured.split(",") if n.strip()]
    else:
        names = list(BUILTIN_CHAINS.get(need, ()))
    names += _default_chain(settings)
    return list(dict.fromkeys(names))


def validate_model(name: str, settings: Settings) -> ModelInfo:
    """The catalogue entry of an explicitly named model, or a clear InvalidArguments/NotConfigured."""
    catalogue = {m.name: m for m in settings.models()}
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


def open_breakers(client: redis.Redis | None, providers: Iterable[str]) -> set[str]:
    """The providers whose circuit breaker is open, in one round trip (no Redis: none)."""
    names = list(dict.fromkeys(providers))
    if client is None or not names:
        return set()
    try:
        with client.pipeline(transaction=False) as pipe:
            for provider in names:
                pipe.hget(breaker_key(provider), "state")
            states = pipe.execute()
    except redis.RedisError:
        return set()
    return {p for p, state in zip(names, states, strict=True) if state in (b"open", "open")}


def candidates(
    requested: str | None,
    settings: Settings,
    *,
    need: str = "default",
    client: redis.Redis | None = None,
    providers: tuple[str, ...] | None = None,
) -> list[ModelInfo]:
    """The models a call may run on, in the order to try them.

    ``providers`` restricts ``auto`` to some providers (a tool that only Kimi can serve).
    """
    name = requested or settings.default_model
    if name != "auto":
        return [validate_model(name, settings)]
    catalogue = {m.name: m for m in settings.models()}
    configured = set(settings.configured_providers())
    if providers is not None:
        configured &= set(providers)
    if not configured:
        raise _no_provider()
    chain = [catalogue[n] for n in chain_for(need, settings) if n in catalogue]
    if providers is not None:
        chain += [
            catalogue[getattr(settings, f"{p}_default_model")]
            for p in providers
            if getattr(settings, f"{p}_default_model") in catalogue
        ]
    usable = [m for m in dict.fromkeys(chain) if m.provider in configured]
    tripped = open_breakers(client, (m.provider for m in usable))
    closed = [m for m in usable if m.provider not in tripped]
    # With every breaker open there is nothing better to do than try anyway (a half-open probe).
    return closed or usable


def with_fallback(models: list[ModelInfo], attempt: Callable[[ModelInfo], T]) -> T:
    """Run ``attempt`` on each model in turn until one succeeds.

    Moves on after a transient provider error or a missing key; any other error (bad request,
    quota, authentication, cancellation, deadline) ends the call at once, since another model would
    not fare better or the caller asked to stop. The last transient error is raised when all failed.
    """
    if not models:
        raise _no_provider()
    last: Exception | None = None
    for index, model in enumerate(models):
        try:
            return attempt(model)
        except ProviderError as exc:
            transient = exc.retryable or exc.kind == KIND_CIRCUIT_OPEN
            if not transient or index == len(models) - 1:
                raise
            last = exc
        except ProviderNotConfigured as exc:
            if index == len(models) - 1:
                raise
            last = exc
        log.warning(
            "%s/%s failed (%s); falling back to %s", model.provider, model.name, last, models[index + 1].name
        )
    raise AssertionError("unreachable") from last
