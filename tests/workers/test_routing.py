"""Model routing: explicit models validated, `auto` chains by need, breakers skipped, fallback."""

from __future__ import annotations

import pytest
import redis

from contracts.errors import InvalidArguments, ProviderError, ProviderNotConfigured
from contracts.models import ModelInfo
from contracts.names import breaker_key
from contracts.settings import load_settings
from tests.workers.redis_fixture import redis_client
from workers.routing import candidates, with_fallback

__all__ = ["redis_client"]
KEYS = {"kimi_api_key": "k" * 20, "glm_api_key": "g" * 20}


def test_an_unknown_model_is_refused_with_the_list() -> None:
    """The error names the model, the choices and listmodels."""
    with pytest.raises(InvalidArguments, match=r"unknown model 'gpt-9'.*listmodels"):
        candidates("gpt-9", load_settings(**KEYS))


def test_a_model_of_an_unconfigured_provider_names_the_key_to_set() -> None:
    """Asking for a GLM model without GLM_API_KEY says to set it."""
    with pytest.raises(ProviderNotConfigured, match="GLM_API_KEY"):
        candidates("glm-4.6", load_settings(kimi_api_key="k" * 20, glm_api_key=None))


def test_auto_chains_mix_both_providers_and_follow_the_need() -> None:
    """Every need's chain has a model of each provider; settings replace a chain."""
    settings = load_settings(**KEYS)
    for need in ("default", "fast", "long_context", "reasoning", "web_search", "vision"):
        chain = candidates("auto", settings, need=need)
        assert {m.provider for m in chain} == {"kimi", "glm"}, need
    assert candidates("auto", settings)[0].name == "kimi-k2.6"
    custom = load_settings(**KEYS, exai_route_fast="glm-4.5-air,kimi-k2.6")
    assert [m.name for m in candidates("auto", custom, need="fast")][:2] == ["glm-4.5-air", "kimi-k2.6"]


def test_auto_skips_providers_without_a_key_and_with_an_open_breaker(redis_client: redis.Redis) -> None:
    """Unconfigured providers are left out; an open breaker moves its models out of the chain."""
    only_glm = load_settings(kimi_api_key=None, glm_api_key="g" * 20)
    assert {m.provider for m in candidates("auto", only_glm)} == {"glm"}
    settings = load_settings(**KEYS)
    redis_client.hset(breaker_key("kimi"), mapping={"state": "open"})
    try:
        assert {m.provider for m in candidates("auto", settings, client=redis_client)} == {"glm"}
    finally:
        redis_client.delete(breaker_key("kimi"))
    assert candidates("auto", settings, client=redis_client)[0].provider == "kimi"


def test_fallback_moves_on_after_transient_errors_only() -> None:
    """A 5xx moves to the next model; a bad request stops at once; all transient re-raises the last."""
    a, b = ModelInfo("a", "kimi", 10_000), ModelInfo("b", "glm", 10_000)
    tried: list[str] = []

    def flaky(model: ModelInfo) -> str:
        tried.append(model.name)
        if model.name == "a":
            raise ProviderError("down", provider="kimi", kind="server_error")
        return model.name

    assert with_fallback([a, b], flaky) == "b" and tried == ["a", "b"]

    def refused(model: ModelInfo) -> str:
        raise ProviderError("bad", provider=model.provider, kind="bad_request")

    with pytest.raises(ProviderError, match="bad"):
        with_fallback([a, b], refused)

    def down(model: ModelInfo) -> str:
        raise ProviderError(f"{model.name} down", provider=model.provider, kind="overloaded")

    with pytest.raises(ProviderError, match="b down"):
        with_fallback([a, b], down)
