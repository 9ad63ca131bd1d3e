"""The configuration matrix (docs/configuration.md), generated from the Settings class.

Every setting: its environment variable(s), default, which processes read it, whether it is a
secret, and what it means. "Used by" is found by reading the source tree, so it cannot drift from
the code; the meaning comes from the field's ``description=``, else from the comment on the field's
line in contracts/settings.py, else from the table below. Regenerate with
``exai config --matrix > docs/configuration.md``.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, SecretStr
from pydantic.fields import FieldInfo

from contracts.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
# Where a setting is read, by source package.
ROLES = {
    "gateway": "gateway",
    "workers": "worker",
    "monitoring": "monitor",
    "bridge": "stdio bridge",
    "cli": "cli",
    "contracts": "all",
}

DESCRIPTIONS = {
    "redis_url": "Broker, results and pub/sub (`redis://`, `rediss://`, `unix://`).",
    "exai_ws_host": "Address the gateway (WebSocket and Streamable HTTP) listens on.",
    "exai_ws_port": "MCP over WebSocket, and the old daemon's protocol (`0`: any free port, logged).",
    "health_port": "Health endpoints of `exai monitor` (`/livez`, `/readyz`, `/health`).",
    "metrics_port": "Prometheus metrics of `exai monitor`.",
    "dashboard_port": "Live dashboard of `exai monitor`.",
    "log_level": "DEBUG, INFO, WARNING, ERROR or CRITICAL; logs always go to stderr.",
    "exai_log_format": "`text`, or `json` for one JSON object per line.",
    "exai_ws_token": (
        "Client token (16+ characters) for every front door; unset: the local token file's "
        "(`EXAI_AUTH=token`), or none (`EXAI_AUTH=none`)."
    ),
    "kimi_api_key": "Kimi (Moonshot) API key.",
    "glm_api_key": "GLM (Zhipu / Z.ai) API key.",
    "kimi_api_url": "Kimi API base URL.",
    "glm_api_url": "GLM API base URL.",
    "kimi_models": "Kimi models as `name:context,…`; unset: the built-in list.",
    "glm_models": "GLM models as `name:context,…`; unset: the built-in list.",
    "kimi_default_model": "Kimi model used when a call names none.",
    "glm_default_model": "GLM model used when a call names none.",
    "default_model": "`auto`, or a model name, for calls that name none.",
    "exai_ws_max_frame_bytes": "Largest WebSocket frame (larger: close 1009) or HTTP body (larger: 413).",
    "exai_ws_ping_interval_s": "WebSocket keepalive ping interval.",
    "exai_ws_ping_timeout_s": "WebSocket keepalive: close when a ping is not answered within this.",
    "exai_tools_page_size": "Tools per `tools/list` page.",
    "exai_enqueue_threads": "Threads shared by all calls to hand tasks to Celery.",
    "exai_redis_max_connections": "Redis connections per worker process; more callers wait.",
    "exai_redis_pool_timeout_s": "How long a caller waits for a free Redis connection before failing.",
    "exai_provider_connect_timeout_s": "Provider HTTP connect timeout (also used for Redis start-up waits).",
    "exai_retry_backoff_base_s": "First retry's backoff ceiling (exponential, full jitter).",
    "exai_retry_backoff_max_s": "Longest backoff between retries (a provider's Retry-After may be longer).",
    "exai_max_output_tokens": "Cap on a call's `max_tokens`.",
    "exai_worker_pool": "Celery pool: gevent (default), threads, prefork or solo.",
    "exai_worker_concurrency": "Calls held at once per worker process.",
    "exai_max_retries": "Retries of transient provider errors.",
    "exai_stdio_reconnect_max_s": "Longest wait between two reconnection attempts of the stdio bridge.",
    "exai_result_ttl_s": "How long outcomes (and cancel marks, tasks) stay in Redis.",
    "exai_flower_port": "Flower's port (`exai flower`).",
    "exai_flower_user": "Flower's basic-auth user.",
    "exai_dashboard_push_s": "How often the dashboard pushes a new state to browsers.",
    "exai_dashboard_recent_calls": "Recent calls the dashboard lists.",
    "exai_memory_warn_percent": "Health: memory use that makes the service `degraded`.",
    "exai_memory_critical_percent": "Health: memory use that makes the service `unhealthy`.",
    "exai_disk_degraded_percent": "Health: disk use that makes the service `degraded`.",
    "exai_disk_unhealthy_percent": "Health: disk use that makes the service `unhealthy`.",
    "exai_claim_ttl_s": "How long a worker's claim on a call lasts before another may take it over.",
    "exai_max_connections_per_ip": (
        "Open connections per client address, counted on each front (WebSocket; HTTP connections, "
        "not HTTP sessions)."
    ),
    "exai_http_session_unused_s": (
        "An HTTP session that gets no request after its `initialize` ends after this."
    ),
    "exai_http_max_sessions_per_client": (
        "HTTP sessions one client may hold; a new one ends its least recently used idle one "
        "(503 only when all are busy)."
    ),
    "exai_handshake_timeout_s": (
        "Deadline of a WebSocket opening handshake and of each HTTP request's headers "
        "(slow clients are closed)."
    ),
    "exai_session_max_pending": (
        "Requests of any method one session may leave unanswered (calls, `tasks/result` waits…); "
        "past it: error -32000."
    ),
    "exai_client_max_pending": (
        "Requests one client may leave unanswered over all its sessions in a gateway process; "
        "past it: -32000."
    ),
    "exai_thread_max_turns": "Turns kept in a conversation thread (`continuation_id`).",
    "exai_route_default": "Models `auto` tries in order for ordinary calls (`name,name,…`).",
    "exai_route_fast": "Models `auto` tries for calls that need speed.",
    "exai_route_long_context": "Models `auto` tries for calls with long inputs.",
    "exai_route_reasoning": "Models `auto` tries for calls that need reasoning.",
    "exai_route_web_search": "Models `auto` tries for calls with web search.",
    "exai_route_vision": "Models `auto` tries for calls with images.",
    "exai_consensus_max_models": "Models one `consensus` call may ask.",
    "supabase_url": "Supabase project URL (optional durable conversation history).",
    "supabase_key": "Supabase service key.",
    "exai_supabase_timeout_s": "Timeout of each Supabase request.",
}

# Settings read through a computed name (``getattr(settings, f"{provider}_api_key")``) or a method.
USED_BY = {
    **{f"{p}_{s}": "worker" for p in ("kimi", "glm") for s in ("api_key", "api_url", "default_model")},
    "kimi_models": "all",
    "glm_models": "all",
    "exai_providers": "worker",
    "exai_visibility_timeout_s": "all",
    "exai_ws_tokens": "gateway",
    "exai_request_state_keys": "gateway",
    "exai_ws_token": "gateway, stdio bridge, cli",
    "exai_allowed_origins": "gateway, monitor",
    "exai_auth": "gateway",
    "exai_ws_token_file": "gateway, stdio bridge, cli",
    "exai_tool_packs": "gateway, worker, monitor",
    "log_level": "all",
    "exai_log_format": "all",
    **{
        f"exai_route_{r}": "worker"
        for r in ("default", "fast", "long_context", "reasoning", "web_search", "vision")
    },
}


def _comments() -> dict[str, str]:
    """The trailing comment of each ``name: type = default  # comment`` line of contracts/settings.py."""
    source = (ROOT / "contracts" / "settings.py").read_text()
    found: dict[str, str] = {}
    line_field: dict[int, str] = {}
    for number, line in enumerate(source.splitlines(), 1):
        match = re.match(r"^    ([a-z_][a-z0-9_]*): ", line)
        if match:
            line_field[number] = match.group(1)
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT and token.start[0] in line_field:
            text = token.string.lstrip("#").strip()
            found[line_field[token.start[0]]] = text[:1].upper() + text[1:]
    return found


def _used_by(name: str, sources: dict[str, str]) -> str:
    if name in USED_BY:
        return USED_BY[name]
    pattern = re.compile(rf"\b{name}\b")
    roles = [role for package, role in ROLES.items() if pattern.search(sources.get(package, ""))]
    if "all" in roles or len(roles) >= 3:
        return "all"
    return ", ".join(roles) or "—"


def _package_sources() -> dict[str, str]:
    out: dict[str, str] = {}
    for package in ROLES:
        files = sorted((ROOT / package).rglob("*.py"))
        text = "\n".join(
            p.read_text() for p in files if p.name != "settings.py" and p.name != "config_matrix.py"
        )
        out[package] = text
    return out


def _is_secret(field: FieldInfo) -> bool:
    return "SecretStr" in repr(field.annotation) or field.annotation is SecretStr


def _default(field: FieldInfo) -> str:
    if _is_secret(field) or field.default is None:
        return "unset"
    value: Any = field.default
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    return f"`{value}`"


def _variables(name: str, field: FieldInfo) -> str:
    alias = field.validation_alias
    names = [str(c) for c in alias.choices] if isinstance(alias, AliasChoices) else [name.upper()]
    return " / ".join(f"`{n}`" for n in names)


def describe(name: str, field: FieldInfo, comments: dict[str, str]) -> str:
    return field.description or comments.get(name) or DESCRIPTIONS.get(name, "")


def rows() -> list[dict[str, str]]:
    comments = _comments()
    sources = _package_sources()
    return [
        {
            "name": name,
            "variable": _variables(name, field),
            "default": _default(field),
            "used_by": _used_by(name, sources),
            "secret": "yes" if _is_secret(field) else "",
            "meaning": describe(name, field, comments),
        }
        for name, field in Settings.model_fields.items()
    ]


HEADER = """# Configuration matrix

Generated from `contracts/settings.py` by `exai config --matrix > docs/configuration.md`; do not edit
by hand. Every setting is an environment variable (or a line in `.env`), validated at start-up:
`exai config --check` exits 2 with a message naming each bad variable. Secrets are never logged,
shown by `exai config`, or written in the repository's deployment files; give them through the
environment (Docker Compose: the shell or an uncommitted `.env`; Kubernetes: the `exai-secrets`
Secret).

**Profiles.** `deploy/profiles/{dev,staging,prod}.env` hold the non-secret values of each
environment; `.env.docker` is the Compose profile and `deploy/kubernetes/configmap.yaml` the
Kubernetes one. Check a profile with
`env $(grep -v '^#' deploy/profiles/prod.env | xargs) exai config --check`.

"Used by" is where the code reads the setting: gateway, worker, monitor, stdio bridge, cli, or all.

| variable | default | used by | secret | meaning |
|---|---|---|---|---|
"""


def render() -> str:
    lines = []
    for r in rows():
        meaning = r["meaning"].replace("|", "/")
        lines.append(f"| {r['variable']} | {r['default']} | {r['used_by']} | {r['secret']} | {meaning} |")
    return HEADER + "\n".join(lines) + "\n"
