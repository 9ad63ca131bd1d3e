"""The one settings object, read from the environment (and ``.env``) once per process.

Names the old server used are kept (``REDIS_URL``, ``EXAI_WS_PORT`` …); everything new is prefixed
``EXAI_``. Every limit and timeout of the service is a field here, with its default, and nowhere else.
Build it with :func:`load_settings`, which turns validation errors into one message naming each bad
variable.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.errors import ConfigError
from contracts.models import DEFAULT_MODELS, PROVIDERS, ModelInfo, parse_model_list

Port = Annotated[int, Field(ge=0, le=65535)]  # 0: any free port (the chosen one is logged)
Seconds = Annotated[float, Field(gt=0)]

REDIS_SCHEMES = ("redis", "rediss", "unix")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MIN_TOKEN_LENGTH = 16


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_ignore_empty=True, extra="ignore", case_sensitive=False, frozen=True
    )

    # --- where things are -------------------------------------------------------------------
    redis_url: str = "redis://127.0.0.1:6379/0"
    exai_ws_host: str = "127.0.0.1"
    exai_ws_port: Port = 8079
    health_port: Port = 8081
    metrics_port: Port = 8000
    dashboard_port: Port = 8080
    log_level: str = "INFO"
    exai_log_format: Literal["text", "json"] = "text"

    # --- secrets ----------------------------------------------------------------------------
    exai_ws_token: SecretStr | None = None
    kimi_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("KIMI_API_KEY", "MOONSHOT_API_KEY")
    )
    glm_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("GLM_API_KEY", "ZHIPUAI_API_KEY")
    )

    # --- providers and models ---------------------------------------------------------------
    kimi_api_url: str = "https://api.moonshot.ai/v1"
    glm_api_url: str = "https://api.z.ai/api/paas/v4"
    kimi_models: str | None = None  # "name:context,…"; default: contracts.models.DEFAULT_MODELS
    glm_models: str | None = None
    kimi_default_model: str = "kimi-k2.6"
    glm_default_model: str = "glm-4.6"
    default_model: str = "auto"
    exai_providers: str = "kimi,glm"  # order in which "auto" tries providers

    # --- gateway limits ---------------------------------------------------------------------
    exai_ws_max_frame_bytes: Annotated[int, Field(ge=1024)] = 4 * 1024 * 1024
    exai_ws_ping_interval_s: Seconds = 20.0
    exai_ws_ping_timeout_s: Seconds = 20.0
    exai_tools_page_size: Annotated[int, Field(ge=1, le=1000)] = 100
    exai_enqueue_threads: Annotated[int, Field(ge=1, le=64)] = 4
    exai_result_sweep_s: Seconds = 2.0  # how often the gateway re-reads results it may have missed

    # --- call lifetime ----------------------------------------------------------------------
    exai_call_timeout_s: Seconds = 600.0  # whole call, queue wait and retries included
    exai_progress_interval_s: Seconds = 5.0  # heartbeat to clients on long calls
    exai_progress_min_interval_s: Annotated[float, Field(ge=0)] = 0.02  # worker progress throttle
    exai_result_ttl_s: Annotated[int, Field(ge=60)] = 3600
    exai_visibility_timeout_s: Seconds | None = None  # default: call timeout + 300 s

    # --- provider HTTP and retries ----------------------------------------------------------
    exai_provider_connect_timeout_s: Seconds = 10.0
    exai_provider_read_timeout_s: Seconds = 120.0  # silence allowed between two bytes of a reply
    exai_max_retries: Annotated[int, Field(ge=0, le=50)] = 5
    exai_retry_backoff_base_s: Seconds = 1.0
    exai_retry_backoff_max_s: Seconds = 30.0
    exai_max_output_tokens: Annotated[int, Field(ge=1)] = 8192

    # --- workers ----------------------------------------------------------------------------
    exai_worker_pool: Literal["gevent", "threads", "prefork", "solo"] = "gevent"
    exai_worker_concurrency: Annotated[int, Field(ge=1, le=100_000)] = 500

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        scheme = urlparse(value).scheme
        if scheme not in REDIS_SCHEMES:
            raise ValueError(f"scheme must be one of {', '.join(REDIS_SCHEMES)}, got {scheme or 'none'!r}")
        return value

    @field_validator("kimi_api_url", "glm_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"must be an http(s) URL, got {value!r}")
        return value.rstrip("/")

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}, got {value!r}")
        return level

    @field_validator("exai_ws_token")
    @classmethod
    def _token_length(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_TOKEN_LENGTH:
            raise ValueError(f"must be at least {MIN_TOKEN_LENGTH} characters long")
        return value

    @field_validator("exai_providers")
    @classmethod
    def _providers(cls, value: str) -> str:
        names = [p.strip() for p in value.split(",") if p.strip()]
        unknown = [p for p in names if p not in PROVIDERS]
        if unknown or not names:
            raise ValueError(f"unknown provider {unknown[0] if unknown else value!r}; known: {PROVIDERS}")
        return ",".join(names)

    @field_validator("kimi_models", "glm_models")
    @classmethod
    def _model_list(cls, value: str | None) -> str | None:
        if value is not None:
            parse_model_list("any", value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        known = {m.name for m in self.models()}
        for field in ("default_model",):
            name = getattr(self, field)
            if name != "auto" and name not in known:
                raise ValueError(
                    f"DEFAULT_MODEL: unknown model {name!r}; use 'auto' or one of {sorted(known)}"
                )
        for provider in PROVIDERS:
            default = getattr(self, f"{provider}_default_model")
            if default not in {m.name for m in self.models(provider)}:
                raise ValueError(
                    f"{provider.upper()}_DEFAULT_MODEL: {default!r} is not in {provider.upper()}_MODELS"
                )
        if (
            self.exai_visibility_timeout_s is not None
            and self.exai_visibility_timeout_s <= self.exai_call_timeout_s
        ):
            raise ValueError("EXAI_VISIBILITY_TIMEOUT_S must be longer than EXAI_CALL_TIMEOUT_S")
        return self

    # --- derived values ---------------------------------------------------------------------
    def models(self, provider: str | None = None) -> tuple[ModelInfo, ...]:
        providers = PROVIDERS if provider is None else (provider,)
        out: list[ModelInfo] = []
        for name in providers:
            text = getattr(self, f"{name}_models")
            out.extend(parse_model_list(name, text) if text else DEFAULT_MODELS[name])
        return tuple(out)

    def provider_order(self) -> tuple[str, ...]:
        return tuple(self.exai_providers.split(","))

    def api_key(self, provider: str) -> SecretStr | None:
        key: SecretStr | None = getattr(self, f"{provider}_api_key")
        return key

    def api_url(self, provider: str) -> str:
        url: str = getattr(self, f"{provider}_api_url")
        return url

    def configured_providers(self) -> tuple[str, ...]:
        return tuple(p for p in self.provider_order() if self.api_key(p) is not None)

    @property
    def visibility_timeout_s(self) -> float:
        if self.exai_visibility_timeout_s is not None:
            return self.exai_visibility_timeout_s
        return self.exai_call_timeout_s + 300.0

    def secrets(self) -> list[str]:
        """Every secret value set, so logs and responses can be checked for leaks."""
        values = (self.exai_ws_token, self.kimi_api_key, self.glm_api_key)
        return [v.get_secret_value() for v in values if v is not None]

    def public_view(self) -> dict[str, Any]:
        """The effective configuration with every secret masked, keyed by environment variable."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = "********"
            out[name.upper()] = value
        out["REDIS_URL"] = redact_url(self.redis_url)
        out["EXAI_VISIBILITY_TIMEOUT_S"] = self.visibility_timeout_s
        return out


def redact_url(url: str) -> str:
    """The URL with any password replaced, safe to log or show."""
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    netloc = parsed.netloc.replace(f":{parsed.password}@", ":********@", 1)
    return parsed._replace(netloc=netloc).geturl()


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from the environment, or raise ConfigError naming every bad variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(part) for part in err["loc"]).upper()
            message = err["msg"].removeprefix("Value error, ")
            got = err.get("input")
            where = f"{loc}: " if loc else ""
            shown = (
                ""
                if loc in ("EXAI_WS_TOKEN", "KIMI_API_KEY", "GLM_API_KEY", "REDIS_URL")
                or isinstance(got, dict)
                else (f" (got {got!r})")
            )
            problems.append(f"{where}{message}{shown}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None
