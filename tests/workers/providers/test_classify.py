"""Provider failures mapped to error kinds, row by row from the provider notes' table."""

from __future__ import annotations

import email.utils
import ssl

import httpx
import pytest

from contracts.errors import RETRYABLE_KINDS
from workers.providers.classify import classify_response, classify_transport_error, parse_retry_after


def kimi(error_type: str) -> dict[str, object]:
    return {"error": {"message": "provider text", "type": error_type}}


def glm(code: str) -> dict[str, object]:
    return {"error": {"code": code, "message": "provider text"}}


@pytest.mark.parametrize(
    ("provider", "status", "body", "kind"),
    [
        ("kimi", 429, kimi("rate_limit_reached_error"), "rate_limit"),
        ("kimi", 429, kimi("engine_overloaded_error"), "overloaded"),
        ("kimi", 429, kimi("exceeded_current_quota_error"), "quota"),
        ("kimi", 401, kimi("invalid_authentication_error"), "auth"),
        ("kimi", 403, kimi("permission_denied_error"), "auth"),
        ("glm", 429, glm("1302"), "rate_limit"),
        ("glm", 429, glm("1303"), "rate_limit"),
        ("glm", 429, glm("1305"), "rate_limit"),
        ("glm", 429, glm("1312"), "overloaded"),
        ("glm", 429, glm("1304"), "quota"),
        ("glm", 429, glm("1308"), "quota"),
        ("glm", 429, glm("1310"), "quota"),
        ("glm", 429, glm("1113"), "quota"),
        ("glm", 400, glm("1301"), "content_filter"),
        ("kimi", 400, kimi("content_filter"), "content_filter"),
        *[("glm", 401, glm(str(code)), "auth") for code in range(1000, 1005)],
        *[(p, status, None, "server_error") for p in ("kimi", "glm") for status in (500, 502, 503, 504)],
        ("kimi", 400, kimi("invalid_request_error"), "bad_request"),
        ("glm", 400, glm("1214"), "bad_request"),
    ],
)
def test_each_row_of_the_table_gets_its_kind(provider: str, status: int, body: object, kind: str) -> None:
    """The provider's error type/code (or the status when there is none) decides the kind."""
    error = classify_response(provider, status, body)
    assert (error.kind, error.provider, error.status) == (kind, provider, status)
    assert error.retryable == (kind in RETRYABLE_KINDS)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, "auth"),
        (403, "auth"),
        (429, "rate_limit"),
        (400, "bad_request"),
        (404, "bad_request"),
        (408, "timeout"),
        (500, "server_error"),
        (599, "server_error"),
    ],
)
def test_the_status_decides_when_the_body_names_nothing_known(status: int, kind: str) -> None:
    """A body that is not JSON, or names an unknown error, falls back on the HTTP status."""
    assert classify_response("kimi", status, None).kind == kind
    assert classify_response("glm", status, glm("9999")).kind == kind


def test_quota_and_auth_and_bad_requests_are_not_retryable() -> None:
    """Only transient kinds are retried."""
    for body, status in (
        (kimi("exceeded_current_quota_error"), 429),
        (glm("1308"), 429),
        (glm("1002"), 401),
        (kimi("invalid_request_error"), 400),
    ):
        assert not classify_response("kimi", status, body).retryable


def test_a_numeric_glm_code_is_read_like_its_string() -> None:
    """GLM sends codes as strings; an integer code is read the same way."""
    assert classify_response("glm", 429, {"error": {"code": 1308, "message": "x"}}).kind == "quota"


def test_an_error_event_inside_a_stream_is_classified_without_a_status() -> None:
    """status None (error inside a 200 stream) uses the code, or counts as a server error."""
    assert classify_response("glm", None, glm("1302")).kind == "rate_limit"
    unknown = classify_response("glm", None, {"error": {"message": "?"}})
    assert unknown.kind == "server_error" and "in the stream" in unknown.message


def test_messages_name_the_provider_the_signal_and_what_to_do() -> None:
    """Messages read as advice a person can act on, with the provider's own text appended."""
    kimi_limit = classify_response("kimi", 429, kimi("rate_limit_reached_error"))
    assert kimi_limit.message.startswith(
        "Kimi rate limit reached (HTTP 429, rate_limit_reached_error): retrying later may succeed"
    )
    assert kimi_limit.message.endswith("Kimi said: provider text")
    glm_quota = classify_response("glm", 429, glm("1308"))
    assert glm_quota.message.startswith(
        "GLM quota exhausted (HTTP 429, code 1308): top up the account or switch provider"
    )
    assert glm_quota.provider_code == "1308"
    assert "GLM_API_KEY" in classify_response("glm", 401, glm("1002")).message


def test_retry_after_header_is_read_in_seconds_whatever_its_case() -> None:
    """Retry-After (any header case) becomes retry_after seconds."""
    headers = httpx.Headers({"retry-after": "7"})
    assert classify_response("kimi", 429, kimi("rate_limit_reached_error"), headers).retry_after == 7.0
    assert classify_response("glm", 429, glm("1302"), {"RETRY-AFTER": "2.5"}).retry_after == 2.5
    assert classify_response("glm", 429, glm("1302"), {}).retry_after is None


def test_retry_after_accepts_http_dates_and_ignores_garbage() -> None:
    """An HTTP date counts from now; negative becomes 0; unreadable values are ignored."""
    now = 1_800_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(date, now=now) == pytest.approx(30.0)
    assert parse_retry_after("-3") == 0.0
    for garbage in (None, "", "soon", "nan", "inf"):
        assert parse_retry_after(garbage) is None


def test_long_provider_text_is_cut() -> None:
    """A provider's very long message does not flood the error."""
    body = {"error": {"message": "x" * 5000, "type": "server_error"}}
    assert len(classify_response("kimi", 500, body).message) < 500


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.ConnectError("refused"), "network"),
        (httpx.ConnectTimeout("slow"), "timeout"),
        (httpx.ReadTimeout("silent"), "timeout"),
        (httpx.RemoteProtocolError("dropped"), "network"),
        (httpx.ReadError("reset"), "network"),
    ],
)
def test_transport_failures_are_retryable_network_or_timeout(exc: httpx.TransportError, kind: str) -> None:
    """Connect errors, read timeouts and dropped connections are transient."""
    error = classify_transport_error("kimi", exc, url="http://127.0.0.1:1/v1")
    assert error.kind == kind and error.retryable and error.status is None
    assert "Kimi" in error.message


def _failed_handshake(verify_message: str) -> httpx.ConnectError:
    """An httpx ConnectError caused by a certificate check, chained as httpx and httpcore chain it."""
    cause = ssl.SSLCertVerificationError(1, f"[SSL: CERTIFICATE_VERIFY_FAILED] {verify_message}")
    cause.verify_message = verify_message
    try:
        try:
            raise cause
        except ssl.SSLError as exc:
            raise httpx.ConnectError(str(exc)) from exc
    except httpx.ConnectError as error:
        return error


@pytest.mark.parametrize("ca_file", [None, "/etc/exai/ca.pem"])
def test_an_untrusted_certificate_is_not_retried_and_names_the_trust_setting(ca_file: str | None) -> None:
    """A failed certificate check fails the same way until trust changes: kind tls, no retry, and
    the message says to use EXAI_PROVIDER_CA_FILE (and what it is now, when set)."""
    error = classify_transport_error(
        "glm",
        _failed_handshake("unable to get local issuer certificate"),
        url="https://127.0.0.1:1/api/paas/v4",
        ca_file=ca_file,
    )
    assert error.kind == "tls" and not error.retryable
    assert "EXAI_PROVIDER_CA_FILE" in error.message
    assert "GLM" in error.message and "unable to get local issuer certificate" in error.message
    assert (ca_file or "(now") in error.message if ca_file else "(now" not in error.message
