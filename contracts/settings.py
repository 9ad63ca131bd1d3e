"""The one settings object, read from the environment (and ``.env``) once per process.

Names the old server used are kept (``REDIS_URL``, ``EXAI_WS_PORT`` …); everything new is prefixed
``EXAI_``. Every limit and timeout of the service is a field here, with its default, and nowhere else.
Build it with :func:`load_settings`, which turns validation errors into one message naming each bad
variable.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts import local_token
from contracts.errors import ConfigError
from contracts.models import DEFAULT_MODELS, PROVIDERS, ModelInfo, parse_model_list
from contracts.origins import LOOPBACK_HOSTS, OriginPolicy, parse_allowed
from contracts.packs import pack_modules

Port = Annotated[int, Field(ge=0, le=65535)]  # 0: any free port (the chosen one is logged)
Seconds = Annotated[float, Field(gt=0)]

REDIS_SCHEMES = ("redis", "rediss", "unix")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MIN_TOKEN_LENGTH = 16
CLIENT_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


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

    # --- who may use the fronts (WebSocket, Streamable HTTP, dashboard) ----------------------
    exai_auth: Literal["token", "none"] = Field(
        default="token",
        description="`token`: a client token is always required (none configured: the local token "
        "file's, see Settings.gateway_tokens()); `none`: no authentication at all, an explicit choice.",
    )
    exai_ws_token_file: str | None = Field(
        default=None,
        description="The local token file `exai up` and the gateway make and local clients read; unset: "
        "`$XDG_CONFIG_HOME/exai-mcp/ws-token`, else `~/.config/exai-mcp/ws-token`.",
    )
    exai_allowed_origins: str | None = Field(
        default=None,
        validation_alias=AliasChoices("EXAI_ALLOWED_ORIGINS", "EXAI_HTTP_ALLOWED_ORIGINS"),
        description="Browser origins every front answers besides localhost (`https://app.example.com,…`).",
    )
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
    # permessage-deflate: the LZ77 window the gateway compresses with (9-15; 0 turns compression
    # off) and zlib's memory level (1-9). Small values keep an idle connection small.
    exai_ws_deflate_window_bits: Annotated[int, Field(ge=0, le=15)] = 10  # 0: no compression
    exai_ws_deflate_mem_level: Annotated[int, Field(ge=1, le=9)] = 3  # zlib memLevel for compression
    exai_tools_page_size: Annotated[int, Field(ge=1, le=1000)] = 100
    exai_tool_packs: str | None = Field(
        default=None,
        description="Importable modules adding tools, prompts and resources (`package.module,…`), loaded "
        "after the built-in `exai` pack by gateways and workers alike (docs/tool-packs.md).",
    )
    exai_enqueue_threads: Annotated[int, Field(ge=1, le=64)] = 4
    # Redis connections per worker process (each running call may hold one); beyond them a caller
    # waits, up to the pool timeout, instead of failing with "Too many connections".
    exai_redis_max_connections: Annotated[int, Field(ge=1)] = 1000
    # The gateway's commands are short (none blocks), so a few connections serve thousands of
    # calls; a burst of calls opening one each cost a fifth of the gateway's CPU.
    exai_gateway_redis_max_connections: Annotated[int, Field(ge=2)] = 64  # the gateway's Redis pool
    exai_redis_pool_timeout_s: Seconds = 10.0
    exai_result_sweep_s: Seconds = 2.0  # how often the gateway re-reads results it may have missed

    # --- other front doors: Streamable HTTP, the old daemon's protocol, the stdio bridge ------
    exai_http_port: Port = 8078  # MCP Streamable HTTP (/mcp), served by the gateway process
    exai_http_session_idle_s: Seconds = 3600.0  # an HTTP session unused this long is ended
    # An HTTP session that gets no request at all after its initialize is ended after this instead.
    exai_http_session_unused_s: Seconds = 30.0
    # HTTP sessions one client identity may hold; a new one ends that client's least recently used
    # idle session (refused with 503 only when all are busy).
    exai_http_max_sessions_per_client: Annotated[int, Field(ge=1)] = 100
    # A WebSocket opening handshake, and the headers of each HTTP request, must arrive within this.
    exai_handshake_timeout_s: Seconds = 10.0
    exai_http_body_timeout_s: Seconds = 30.0  # an HTTP request body must arrive within this (else 408)
    exai_legacy_hello_timeout_s: Seconds = 15.0  # old protocol: first frame must be hello by then
    exai_ws_url: str | None = None  # where `exai stdio` / `exai call` reach the gateway
    exai_stdio_reconnect_base_s: Seconds = 0.5  # bridge reconnects: exponential backoff, full jitter
    exai_stdio_reconnect_max_s: Seconds = 30.0
    exai_stdio_connect_timeout_s: Seconds = 10.0  # one attempt of the stdio bridge to reach the gateway

    # --- call lifetime ----------------------------------------------------------------------
    exai_call_timeout_s: Seconds = 600.0  # whole call, queue wait and retries included
    exai_progress_interval_s: Seconds = 5.0  # heartbeat to clients on long calls
    exai_progress_min_interval_s: Annotated[float, Field(ge=0)] = 0.02  # worker progress throttle
    exai_result_ttl_s: Annotated[int, Field(ge=60)] = 3600
    # Only kombu's own transport (Sentinel URLs) redelivers by visibility timeout; redis:// queues
    # are recovered by consumer heartbeat (EXAI_CONSUMER_HEARTBEAT_S).
    exai_visibility_timeout_s: Seconds | None = None  # default: call timeout + 300 s

    # --- provider HTTP and retries ----------------------------------------------------------
    exai_provider_connect_timeout_s: Seconds = 10.0
    exai_provider_read_timeout_s: Seconds = 120.0  # silence allowed between two bytes of a reply
    exai_provider_ca_file: str | None = Field(
        default=None,
        description="PEM bundle of extra CAs trusted for provider HTTPS, on top of certifi's (a private "
        "CA, a TLS-inspecting proxy, the emulator's --tls CA); verification is never turned off",
    )
    exai_provider_keepalive_s: Annotated[float, Field(ge=0)] = 30.0  # idle connection kept for reuse; 0: none
    exai_provider_keepalive_max: Annotated[int, Field(ge=0)] = 1024  # idle connections kept, per provider
    exai_max_retries: Annotated[int, Field(ge=0, le=50)] = 5
    exai_retry_backoff_base_s: Seconds = 1.0
    exai_retry_backoff_max_s: Seconds = 30.0
    exai_max_output_tokens: Annotated[int, Field(ge=1)] = 8192

    # --- workers ----------------------------------------------------------------------------
    exai_worker_pool: Literal["gevent", "threads", "prefork", "solo"] = "gevent"
    # gevent greenlets are cheap: one worker process holds a thousand waiting LLM calls.
    exai_worker_concurrency: Annotated[int, Field(ge=1, le=100_000)] = 1000

    # --- monitoring (health, metrics, dashboard, Flower, celery-exporter) --------------------
    exai_monitor_host: str = "127.0.0.1"  # where health, metrics and the dashboard listen
    exai_dashboard_token: SecretStr | None = None  # required when the dashboard listens beyond localhost
    exai_flower_port: Port = 5555
    exai_flower_user: str = "exai"
    exai_flower_password: SecretStr | None = None  # unset: `exai up` makes one and keeps it in a file
    exai_exporter_port: Port = 9808  # celery-exporter sidecar
    exai_exporter_python: str | None = None  # its own interpreter; default: .venv-exporter/bin/python
    exai_telemetry_flush_s: Seconds = 1.0  # how often processes flush metric events and heartbeats
    exai_task_event_batch_s: Seconds = 0.1  # how often Celery task events are published in one message
    exai_task_event_batch_max: Annotated[int, Field(ge=1, le=10000)] = 500  # or once this many are waiting
    exai_heartbeat_ttl_s: Annotated[int, Field(ge=2)] = 15  # a process silent this long is gone
    exai_events_max: Annotated[int, Field(ge=1000)] = 100_000  # events kept in the Redis stream
    exai_events_buffer: Annotated[int, Field(ge=100)] = 10_000  # events a process holds unflushed
    exai_dashboard_push_s: Seconds = 1.0
    exai_dashboard_window_s: Annotated[int, Field(ge=60, le=86_400)] = 300  # throughput/latency window
    exai_dashboard_recent_calls: Annotated[int, Field(ge=1, le=1000)] = 50
    exai_health_timeout_s: Seconds = 2.0  # each dependency probe
    exai_health_queue_backlog: Annotated[int, Field(ge=1)] = 1000  # waiting calls: degraded above
    exai_health_queue_age_s: Seconds = 120.0  # oldest waiting call: degraded above
    exai_health_set_aside_window_s: Seconds = 900.0  # health degraded this long after a call set aside
    exai_memory_warn_percent: Annotated[float, Field(gt=0, le=100)] = 80.0
    exai_memory_critical_percent: Annotated[float, Field(gt=0, le=100)] = 90.0
    exai_disk_degraded_percent: Annotated[float, Field(gt=0, le=100)] = 85.0
    exai_disk_unhealthy_percent: Annotated[float, Field(gt=0, le=100)] = 95.0
    exai_disk_path: str = "."  # the file system whose use is checked
    exai_otel_enabled: bool = False  # OpenTelemetry tracing (needs the `tracing` extra)

    # --- durable calls (MCP tasks) and crash recovery ----------------------------------------
    exai_tasks_page_size: Annotated[int, Field(ge=1, le=1000)] = 100  # tasks per tasks/list page
    exai_task_poll_interval_s: Seconds = 1.0  # pollInterval suggested to task clients
    exai_task_threshold_s: float = Field(
        default=30.0,
        ge=0,
        description="A modern client declaring the tasks extension gets a task at once for a task-capable "
        "tool expected to run longer than this (a workflow's expert step, consensus, thinkdeep).",
    )

    # --- 2026-07-28: input rounds (MRTR), lists, streams ------------------------------------
    exai_request_state_keys: SecretStr | None = Field(
        default=None,
        description='HMAC keys sealing MRTR requestState, "key1,key2": the first seals, every one verifies '
        "(rotate by putting the new key first); unset: the gateways agree on one random key through Redis.",
    )
    exai_request_state_ttl_s: Seconds = 600.0  # how long a sealed requestState is accepted on a retry
    exai_request_state_max_bytes: Annotated[int, Field(ge=1024)] = 65536  # largest requestState sealed
    exai_input_max_rounds: Annotated[int, Field(ge=1, le=100)] = 8  # input rounds (MRTR, task input) per call
    exai_list_ttl_ms: Annotated[int, Field(ge=0)] = 300_000  # the ttlMs of public lists and server/discover
    exai_sse_keepalive_s: Seconds = 15.0  # a comment line on SSE streams silent this long
    exai_listen_max_streams: Annotated[int, Field(ge=1)] = 1024  # subscriptions/listen streams per process
    exai_listen_max_backlog: int = Field(
        default=1024, ge=1, description="Notifications queued for one slow listen stream before it is ended."
    )
    # A worker beats every third of this; once it is silent this long, a live worker hands the
    # messages it held back to their queues and takes over its calls' claims.
    exai_consumer_heartbeat_s: Annotated[float, Field(ge=0.5)] = 3.0  # silent this long: calls go elsewhere
    # A running call's claim lapses this long after its worker stopped refreshing it (a claim of a
    # worker whose heartbeat lapsed is taken over at once).
    exai_claim_ttl_s: Annotated[float, Field(ge=1)] = 15.0
    exai_call_max_handovers: int = Field(
        default=2,
        ge=0,
        le=100,
        description="Times a call whose worker died or hung running it is handed to another worker; "
        "the next worker answers it with a SET_ASIDE error instead of running it.",
    )

    # --- circuit breakers (state shared by all workers in Redis) -----------------------------
    exai_breaker_failure_threshold: Annotated[int, Field(ge=1, le=1000)] = 5  # consecutive transient
    exai_breaker_cooldown_s: Seconds = 30.0  # open → half-open, when one probe call is let through

    # --- capacity: leases in Redis that expire with a dead worker ----------------------------
    exai_max_in_flight: Annotated[int, Field(ge=0)] = 0  # provider calls at once, all workers; 0: no cap
    exai_provider_max_in_flight: Annotated[int, Field(ge=0)] = 0  # per provider; 0: no cap
    exai_lease_ttl_s: Annotated[float, Field(ge=1)] = 30.0  # a lease lapses unless renewed this often

    # --- per-client and connection limits (gateway) ------------------------------------------
    exai_ws_tokens: SecretStr | None = None  # "name:token,name:token"; see Settings.client_tokens()
    exai_client_max_in_flight: Annotated[int, Field(ge=1)] = 200  # calls one client has running
    exai_client_calls_per_minute: Annotated[int, Field(ge=1)] = 1200  # tools/call rate per client
    # Requests of any method left unanswered (calls, tasks/result waits, …): on one session, and for
    # one client over all its sessions in a gateway process. Past either: error -32000.
    exai_session_max_pending: Annotated[int, Field(ge=1)] = 1000
    exai_client_max_pending: Annotated[int, Field(ge=1)] = 4000
    exai_max_connections: Annotated[int, Field(ge=1)] = 1000  # open connections, on each front
    exai_max_connections_per_ip: Annotated[int, Field(ge=1)] = 100

    # --- conversation threads (continuation_id) ---------------------------------------------
    exai_thread_ttl_s: Annotated[int, Field(ge=60)] = 3 * 3600  # refreshed on every turn
    exai_thread_max_turns: Annotated[int, Field(ge=2, le=1000)] = 20
    # MCP caps completion values at 100, hence the bound.
    exai_thread_resources_max: Annotated[int, Field(ge=0, le=100)] = 50  # caller's threads listed/completed

    # --- files and images a call may embed ---------------------------------------------------
    exai_file_roots: str | None = None  # comma-separated directories; default: the worker's cwd
    exai_file_max_bytes: Annotated[int, Field(ge=1)] = 1_000_000  # one file
    exai_files_max_total_bytes: Annotated[int, Field(ge=1)] = 2_000_000  # all files of one call
    exai_image_max_bytes: Annotated[int, Field(ge=1)] = 5_000_000  # one image, decoded
    # The secret-file list (workers/secret_files.py) is matched against every file and directory name.
    exai_file_allow_patterns: str | None = None  # names let through the secret-file list: ".github,*.pub"

    # --- model routing and tool behaviour ----------------------------------------------------
    # Chains of models tried in order for `auto`, by what the tool needs ("name,name,…"); unset:
    # a built-in chain across both providers (see workers/routing.py).
    exai_route_default: str | None = None
    exai_route_fast: str | None = None
    exai_route_long_context: str | None = None
    exai_route_reasoning: str | None = None
    exai_route_web_search: str | None = None
    exai_route_vision: str | None = None
    exai_expert_enabled: bool = True  # workflow tools' final step asks an "expert" model
    exai_expert_max_tokens: Annotated[int, Field(ge=1000)] = 60_000  # expert prompt budget
    exai_websearch_max_rounds: Annotated[int, Field(ge=1, le=20)] = 5  # Kimi $web_search loop
    exai_consensus_max_models: Annotated[int, Field(ge=1, le=32)] = 8

    # --- Supabase (optional durable history) -------------------------------------------------
    supabase_url: str | None = None
    supabase_key: SecretStr | None = None
    exai_supabase_timeout_s: Seconds = 10.0
    exai_supabase_max_retries: Annotated[int, Field(ge=0, le=1000)] = 100  # ~ hours of outage

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        scheme = urlparse(value).scheme
        if scheme not in REDIS_SCHEMES:
            raise ValueError(f"scheme must be one of {', '.join(REDIS_SCHEMES)}, got {scheme or 'none'!r}")
        return value

    @field_validator("exai_ws_deflate_window_bits")
    @classmethod
    def _window_bits(cls, value: int) -> int:
        if 0 < value < 9:
            raise ValueError("must be 0 (compression off) or between 9 and 15")
        return value

    @field_validator("kimi_api_url", "glm_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"must be an http(s) URL, got {value!r}")
        return value.rstrip("/")

    @field_validator("exai_provider_ca_file")
    @classmethod
    def _readable_file(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).is_file():
            raise ValueError(f"must be a readable PEM file of CA certificates; {value!r} is not a file")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}, got {value!r}")
        return level

    @field_validator("exai_ws_token", "exai_dashboard_token")
    @classmethod
    def _token_length(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_TOKEN_LENGTH:
            raise ValueError(f"must be at least {MIN_TOKEN_LENGTH} characters long")
        return value

    @field_validator("exai_request_state_keys")
    @classmethod
    def _state_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            keys = [key.strip() for key in value.get_secret_value().split(",") if key.strip()]
            if not keys or any(len(key) < MIN_TOKEN_LENGTH for key in keys):
                # Never echo the keys: only what is wrong with them.
                raise ValueError(
                    f"must be a comma list of keys, each at least {MIN_TOKEN_LENGTH} characters long"
                )
        return value

    @field_validator("exai_ws_tokens")
    @classmethod
    def _named_tokens(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_client_tokens(value.get_secret_value())
        return value

    @field_validator("exai_allowed_origins")
    @classmethod
    def _origins(cls, value: str | None) -> str | None:
        parse_allowed(value)
        return value

    @field_validator("exai_file_allow_patterns")
    @classmethod
    def _allow_patterns(cls, value: str | None) -> str | None:
        for pattern in (p.strip() for p in (value or "").split(",")):
            if "/" in pattern:
                raise ValueError(
                    f"{pattern!r}: patterns match one file or directory name, not a path "
                    "(write '.github', not '.github/workflows')"
                )
        return value

    @field_validator("exai_providers")
    @classmethod
    def _providers(cls, value: str) -> str:
        names = [p.strip() for p in value.split(",") if p.strip()]
        unknown = [p for p in names if p not in PROVIDERS]
        if unknown or not names:
            raise ValueError(f"unknown provider {unknown[0] if unknown else value!r}; known: {PROVIDERS}")
        return ",".join(names)

    @field_validator("exai_tool_packs")
    @classmethod
    def _tool_packs(cls, value: str | None) -> str | None:
        pack_modules(value)
        return value

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
        if self.exai_auth == "none" and self.client_tokens():
            raise ValueError(
                "EXAI_AUTH=none turns authentication off, yet EXAI_WS_TOKEN or EXAI_WS_TOKENS is set; "
                "unset one of them"
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

    def tool_pack_modules(self) -> tuple[str, ...]:
        """The pack modules EXAI_TOOL_PACKS names, after the built-in one."""
        return pack_modules(self.exai_tool_packs)

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

    def client_tokens(self) -> dict[str, str]:
        """Client name → token, from EXAI_WS_TOKENS plus EXAI_WS_TOKEN (named "default")."""
        tokens = parse_client_tokens(self.exai_ws_tokens.get_secret_value()) if self.exai_ws_tokens else {}
        if self.exai_ws_token is not None:
            tokens.setdefault("default", self.exai_ws_token.get_secret_value())
        return tokens

    def gateway_tokens(self) -> dict[str, str]:
        """Client name → token, as the gateway accepts them: EXAI_WS_TOKENS / EXAI_WS_TOKEN; else, with
        EXAI_AUTH=token, the local token file's (made when missing) as "default"; EXAI_AUTH=none: none."""
        if self.uses_token_file():
            return {"default": local_token.ensure(self.token_file())}
        return self.client_tokens()

    def uses_token_file(self) -> bool:
        """Whether the gateway's token is the local token file's: EXAI_AUTH=token and none configured."""
        return self.exai_auth == "token" and not self.client_tokens()

    def token_file(self) -> Path:
        if self.exai_ws_token_file:
            return Path(self.exai_ws_token_file).expanduser()
        return local_token.default_path()

    def client_token(self, url: str) -> str | None:
        """The token `exai call`, `exai task` and `exai stdio` send: EXAI_WS_TOKEN, else the local
        token file's, but only to a gateway on this machine (it must not travel anywhere else)."""
        if self.exai_ws_token is not None:
            return self.exai_ws_token.get_secret_value()
        host = urlparse(url).hostname
        return local_token.read(self.token_file()) if host in LOOPBACK_HOSTS else None

    def origin_policy(self) -> OriginPolicy:
        return OriginPolicy.from_text(self.exai_allowed_origins)

    def secrets(self) -> list[str]:
        """Every secret value set, so logs and responses can be checked for leaks."""
        values: tuple[SecretStr | None, ...]
        values = (self.exai_ws_token, self.kimi_api_key, self.glm_api_key, self.supabase_key)
        values += (self.exai_dashboard_token, self.exai_flower_password)
        found = [v.get_secret_value() for v in values if v is not None] + list(self.client_tokens().values())
        return found + [key.decode() for key in self.request_state_keys()]

    def request_state_keys(self) -> tuple[bytes, ...]:
        """The configured requestState keys, the sealing one first (empty: agree on one via Redis)."""
        if self.exai_request_state_keys is None:
            return ()
        text = self.exai_request_state_keys.get_secret_value()
        return tuple(key.strip().encode() for key in text.split(",") if key.strip())

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


def parse_client_tokens(text: str) -> dict[str, str]:
    """``"alice:tok1,bob:tok2"`` → ``{"alice": "tok1", "bob": "tok2"}``; never echoes a token."""
    tokens: dict[str, str] = {}
    for number, item in enumerate((part.strip() for part in text.split(",")), start=1):
        if not item:
            continue
        name, sep, token = item.partition(":")
        name, token = name.strip(), token.strip()
        if not sep or not CLIENT_NAME.match(name):
            raise ValueError(f"entry {number} must be name:token with a name of [A-Za-z0-9_.-]")
        if len(token) < MIN_TOKEN_LENGTH:
            raise ValueError(f"the token of {name!r} must be at least {MIN_TOKEN_LENGTH} characters long")
        if name in tokens or token in tokens.values():
            raise ValueError(f"client {name!r} or its token appears twice")
        tokens[name] = token
    return tokens


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
                if loc in ("EXAI_WS_TOKEN", "KIMI_API_KEY", "GLM_API_KEY", "SUPABASE_KEY", "REDIS_URL")
                or loc == "EXAI_WS_TOKENS"
                or loc in ("EXAI_DASHBOARD_TOKEN", "EXAI_FLOWER_PASSWORD")
                or isinstance(got, dict)
                else (f" (got {got!r})")
            )
            problems.append(f"{where}{message}{shown}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None
