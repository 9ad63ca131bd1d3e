"""The model catalogue: which models each provider offers and how much context they take."""

from __future__ import annotations

from dataclasses import dataclass

PROVIDERS = ("kimi", "glm")


@dataclass(frozen=True)
class ModelInfo:
    name: str
    provider: str
    context_window: int  # tokens


# Defaults; KIMI_MODELS / GLM_MODELS replace them ("name:context,name:context").
DEFAULT_MODELS: dict[str, tuple[ModelInfo, ...]] = {
    "kimi": (
        ModelInfo("kimi-k2.6", "kimi", 262_144),
        ModelInfo("kimi-k3", "kimi", 262_144),
        ModelInfo("moonshot-v1-8k", "kimi", 8_192),
        ModelInfo("moonshot-v1-32k", "kimi", 32_768),
        ModelInfo("moonshot-v1-128k", "kimi", 131_072),
    ),
    "glm": (
        ModelInfo("glm-4.6", "glm", 200_000),
        ModelInfo("glm-4.7", "glm", 200_000),
        ModelInfo("glm-5", "glm", 200_000),
        ModelInfo("glm-4.5", "glm", 131_072),
        ModelInfo("glm-4.5-air", "glm", 131_072),
        ModelInfo("glm-4.5-flash", "glm", 131_072),
    ),
}


def parse_model_list(provider: str, text: str) -> tuple[ModelInfo, ...]:
    """Parse ``"name:context,name"`` (context defaults to 128k) into model entries."""
    models: list[ModelInfo] = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        name, _, ctx = item.partition(":")
        name = name.strip()
        if not name:
            raise ValueError(f"empty model name in {text!r}")
        try:
            window = int(ctx) if ctx.strip() else 131_072
        except ValueError:
            raise ValueError(f"context window of {name!r} must be an integer, got {ctx!r}") from None
        if window < 1024:
            raise ValueError(f"context window of {name!r} is implausibly small ({window})")
        models.append(ModelInfo(name, provider, window))
    if not models:
        raise ValueError("the list names no model")
    return tuple(models)
