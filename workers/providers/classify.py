"""Turn a provider's failure into a ProviderError whose ``kind`` decides retry or not (no I/O here).

The table is the one in the shared provider notes: Kimi names its errors in ``error.type``, GLM in
``error.code`` (a numeric string); the HTTP status decides when neither is known.
"""

from __future__ import annotations

import email.utils
import math
import ssl
import time
from collections.abc import Mapping
from typing import Any

import httpx

from contracts.errors import (
    KIND_AUTH,
    KIND_BAD_REQUEST,
    KIND_CONTENT,
    KIND_NETWORK,
    KIND_OVERLOADED,
    KIND_QUOTA,
    KIND_RATE_LIMIT,
    KIND_SERVER,
    KIND_TIMEOUT,
    KIND_TLS,
    ProviderError,
)

DISPLAY_NAMES = {"kimi": "Kimi", "glm": "GLM"}
KEY_VARIABLES = {"kimi": "KIMI_API_KEY (or MOONSHOT_API_KEY)", "glm": "GLM_API_KEY (or ZHIPUAI_API_KEY)"}

KIMI_TYPES = {
    "rate_limit_reached_error": KIND_RATE_LIMIT,
    "engine_overloaded_error": KIND_OVERLOADED,
    "exceeded_current_quota_error": KIND_QUOTA,
    "invalid_authentication_error": KIND_AUTH,
    "permission_denied_error": KIND_AUTH,
    "content_filter": KIND_CONTENT,
    "invalid_request_error": KIND_BAD_REQUEST,
    "resource_not_found_error": KIND_BAD_REQUEST,
    "server_error": KIND_SERVER,
}
GLM_CODES = {
    "1302": KIND_RATE_LIMIT,  # concurrency
    "1303": KIND_RATE_LIMIT,  # frequency
    "1305": KIND_RATE_LIMIT,  # traffic
    "1312": KIND_OVERLOADED,  # model busy
    "1304": KIND_QUOTA,  # daily cap
    "1308": KIND_QUOTA,  # plan quota
    "1310": KIND_QUOTA,  # plan quota
    "1113": KIND_QUOTA,  # arrears
    "1301": KIND_CONTENT,
    **{str(code): KIND_AUTH for code in range(1000, 1005)},
}

# What a person can do about each kind, appended to every message.
ADVICE = {
    KIND_RATE_LIMIT: "retrying later may succeed",
    KIND_OVERLOADED: "retrying later may succeed",
    KIND_SERVER: "retrying later may succeed",
    KIND_NETWORK: "check the network and the provider URL; retrying later may succeed",
    KIND_TIMEOUT: "retrying later may succeed",
    KIND_QUOTA: "top up the account or switch provider",
    KIND_CONTENT: "rephrase the request",
    KIND_BAD_REQUEST: "fix the request (model name, messages or parameters)",
}
SUMMARIES = {
    KIND_RATE_LIMIT: "{name} rate limit reached",
    KIND_OVERLOADED: "{name} is overloaded",
    KIND_SERVER: "{name} had a server error",
    KIND_QUOTA: "{name} quota exhausted",
    KIND_AUTH: "{name} rejected the API key",
    KIND_CONTENT: "{name} refused the content",
    KIND_BAD_REQUEST: "{name} rejected the request as invalid",
}
MAX_PROVIDER_TEXT = 300


def display_name(provider: str) -> str:
    return DISPLAY_NAMES.get(provider, provider)


def advice(provider: str, kind: str) -> str:
    if kind == KIND_AUTH:
        return f"check {KEY_VARIABLES.get(provider, 'the API key')}"
    return ADVICE.get(kind, "see the provider's message")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP date); None if unusable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:  # HTTP dates are GMT; a date without a zone is taken as such
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _error_fields(body: Any) -> tuple[str | None, str | None, str | None]:
    """(Kimi type, GLM code, provider message) from an error body of either dialect."""
    error = body.get("error") if isinstance(body, Mapping) else None
    if isinstance(error, str):
        return None, None, error
    if not isinstance(error, Mapping):
        return None, None, None
    err_type = error.get("type")
    code = error.get("code")
    message = error.get("message")
    return (
        err_type if isinstance(err_type, str) else None,
        None if code is None or isinstance(code, bool) else str(code),
        message if isinstance(message, str) and message else None,
    )


def _kind_from_status(status: int | None) -> str:
    if status is None:
        return KIND_SERVER  # an error event inside a stream, of a kind we do not know
    if status in (401, 403):
        return KIND_AUTH
    if status == 429:
        return KIND_RATE_LIMIT
    if status == 408:
        return KIND_TIMEOUT
    if status >= 500:
        return KIND_SERVER
    return KIND_BAD_REQUEST


def classify_response(
    provider: str, status: int | None, body: Any, headers: Mapping[str, str] | None = None
) -> ProviderError:
    """The ProviderError for an error answer: HTTP ``status`` (None for an error event inside a
    stream), the parsed JSON ``body`` (None when it was not JSON) and the response headers."""
    err_type, code, provider_text = _error_fields(body)
    kind = KIMI_TYPES.get(err_type or "") or GLM_CODES.get(code or "") or _kind_from_status(status)
    name = display_name(provider)
    status_text = "in the stream" if status is None else f"HTTP {status}"
    where = ", ".join(p for p in (status_text, err_type, code and f"code {code}") if p)
    summary = SUMMARIES.get(kind, "{name} failed").format(name=name)
    message = f"{summary} ({where}): {advice(provider, kind)}"
    if provider_text:
        cut = len(provider_text) > MAX_PROVIDER_TEXT
        message += f". {name} said: {provider_text[:MAX_PROVIDER_TEXT]}{'…' if cut else ''}"
    retry_after = parse_retry_after(_header(headers or {}, "Retry-After"))
    return ProviderError(
        message,
        provider=provider,
        kind=kind,
        status=status,
        provider_code=err_type or code,
        retry_after=retry_after,
    )


def _certificate_error(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLCertVerificationError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _untrusted(
    provider: str, url: str, error: ssl.SSLCertVerificationError, ca_file: str | None
) -> ProviderError:
    reason = error.verify_message or error.reason or str(error)
    if ca_file:
        fix = f"if a private CA signed it, add that CA to EXAI_PROVIDER_CA_FILE (now {ca_file})"
    else:
        fix = "if a private CA signed it, set EXAI_PROVIDER_CA_FILE to a PEM bundle holding that CA"
    return ProviderError(
        f"the TLS certificate of {display_name(provider)} at {url} could not be verified ({reason}): {fix}",
        provider=provider,
        kind=KIND_TLS,
    )


def classify_transport_error(
    provider: str, exc: httpx.TransportError, *, url: str, ca_file: str | None = None
) -> ProviderError:
    """The ProviderError for a call that got no complete answer: no connection, silence, or a drop.

    An untrusted certificate is not retried (kind ``tls``): it fails the same way until the trust
    setting (``ca_file``, from EXAI_PROVIDER_CA_FILE) changes."""
    name = display_name(provider)
    untrusted = _certificate_error(exc)
    if untrusted is not None:
        return _untrusted(provider, url, untrusted, ca_file)
    if isinstance(exc, httpx.ConnectTimeout):
        kind, what = KIND_TIMEOUT, f"timed out connecting to {name} at {url}"
    elif isinstance(exc, httpx.ConnectError):
        kind, what = KIND_NETWORK, f"could not connect to {name} at {url} ({exc})"
    elif isinstance(exc, httpx.TimeoutException):
        kind, what = KIND_TIMEOUT, f"{name} went silent for longer than the read timeout"
    else:
        kind, what = KIND_NETWORK, f"the connection to {name} broke before the answer was complete ({exc})"
    return ProviderError(f"{what}: {advice(provider, kind)}", provider=provider, kind=kind)
