"""One exception tree for the whole service.

Every error carries a stable ``code`` (what a program matches on) and a message a person can act on.
The gateway maps them to JSON-RPC errors or ``isError`` results in one place (``gateway.errors``).
"""

from __future__ import annotations

from typing import Any


class ExaiError(Exception):
    """Raised when anything in the service fails in a way the caller should hear about."""

    code = "INTERNAL"

    def __init__(self, message: str, *, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data or {}


class ConfigError(ExaiError):
    """Raised when the environment holds a setting that cannot be used."""

    code = "CONFIG"


class ToolNotFound(ExaiError):
    """Raised when a call names a tool that does not exist."""

    code = "TOOL_NOT_FOUND"


class InvalidArguments(ExaiError):
    """Raised when a tool's arguments do not match its input schema."""

    code = "INVALID_ARGUMENTS"


class DeadlineExceeded(ExaiError):
    """Raised when a call runs past its deadline."""

    code = "TIMEOUT"


class CallCancelled(ExaiError):
    """Raised inside a worker when the caller cancelled the call."""

    code = "CANCELLED"


class ProviderError(ExaiError):
    """Raised when a provider answers with an error or cannot be reached.

    ``kind`` decides what happens next (see ``RETRYABLE_KINDS``): transient kinds are retried with
    backoff, the others fail the call at once with a clear message.
    """

    code = "PROVIDER_ERROR"

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        kind: str,
        status: int | None = None,
        provider_code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(
            message,
            data={"provider": provider, "kind": kind, "status": status, "provider_code": provider_code},
        )
        self.provider = provider
        self.kind = kind
        self.status = status
        self.provider_code = provider_code
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE_KINDS


class CallSetAside(ExaiError):
    """Raised when a call stopped too many workers (each crashed or hung running it) to be run again."""

    code = "SET_ASIDE"


class ProviderNotConfigured(ExaiError):
    """Raised when a call needs a provider whose API key is not set."""

    code = "PROVIDER_NOT_CONFIGURED"


class RetriesExhausted(ExaiError):
    """Raised when a transient provider error outlasted every retry."""

    code = "RETRIES_EXHAUSTED"


# Kinds of provider failure (see ../shared/notes/providers.md for the table they come from).
KIND_RATE_LIMIT = "rate_limit"
KIND_OVERLOADED = "overloaded"
KIND_SERVER = "server_error"
KIND_NETWORK = "network"
KIND_TIMEOUT = "timeout"
KIND_QUOTA = "quota"
KIND_AUTH = "auth"
KIND_CONTENT = "content_filter"
KIND_BAD_REQUEST = "bad_request"
KIND_TLS = "tls"  # the provider's certificate could not be verified: a trust setting, not a blip

RETRYABLE_KINDS = frozenset({KIND_RATE_LIMIT, KIND_OVERLOADED, KIND_SERVER, KIND_NETWORK, KIND_TIMEOUT})
