"""The one Origin/Host policy of every front: what it lets through and what it refuses."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from contracts.errors import ConfigError
from contracts.origins import HOST_REFUSED, ORIGIN_REFUSED, OriginPolicy, parse_origin
from contracts.settings import load_settings

POLICY = OriginPolicy.from_text("https://App.Example.com/, http://tools.example.org:8080")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("EXAI_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env


def refusal(origin: str | None = None, host: str | None = None, *, check_host: bool = False) -> str | None:
    origins, hosts = [] if origin is None else [origin], [] if host is None else [host]
    return POLICY.refusal(origins, hosts, check_host=check_host)


def test_a_request_without_origin_passes() -> None:
    """Non-browser clients send no Origin and are not affected."""
    assert refusal() is None
    assert refusal(host="gateway.internal:8079") is None


@pytest.mark.parametrize(
    "origin",
    [
        "http://localhost",
        "http://localhost:5173",
        "https://LOCALHOST:8443/",
        "http://127.0.0.1:8080",
        "http://[::1]:3000",
    ],
)
def test_loopback_origins_are_always_allowed(origin: str) -> None:
    """localhost, 127.0.0.1 and [::1], over http or https, with any port."""
    assert refusal(origin) is None


@pytest.mark.parametrize(
    "origin", ["https://app.example.com", "https://app.example.com:443", "HTTP://tools.example.org:8080/"]
)
def test_listed_origins_pass_after_normalisation(origin: str) -> None:
    """Case, a trailing slash and the default port make no difference."""
    assert refusal(origin) is None


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example.com",
        "http://app.example.com",  # listed as https only
        "https://app.example.com:8443",  # another port
        "http://tools.example.org",  # port 80, not 8080
        "https://app.example.com.evil.example",
        "null",
        "",
        "file://",
        "http://localhost.evil.example",
        "ftp://localhost",
        "chrome-extension://abcdef",
        "http://user@localhost",
        "http://localhost/path",
        "http://localhost:99999",
        "http://[::1",
        "http://local host",
        "http://localhost\x00.evil",
        "http://localhost\r\nX-Injected: 1",
    ],
)
def test_foreign_null_and_unparsable_origins_are_refused(origin: str) -> None:
    """Everything else, including `null` (sandboxed pages, file://) and malformed values, gets 403."""
    assert refusal(origin) == ORIGIN_REFUSED


def test_two_origin_headers_are_refused() -> None:
    """A request may carry one Origin; two are not a browser's and are refused."""
    assert POLICY.refusal(["http://localhost", "http://localhost"], [], check_host=False) == ORIGIN_REFUSED


@pytest.mark.parametrize(
    "host",
    ["localhost", "localhost:8079", "127.0.0.1:8080", "[::1]:8079", "APP.example.com", "tools.example.org"],
)
def test_without_auth_a_host_of_loopback_or_of_the_list_passes(host: str) -> None:
    """The Host check lets through this machine's names and the allow-list's hosts, with any port."""
    assert refusal(host=host, check_host=True) is None


@pytest.mark.parametrize(
    "host", ["evil.example.com", "evil.example.com:8079", "127.0.0.2", "", "local host", "localhost:123456"]
)
def test_without_auth_a_rebinding_host_is_refused(host: str) -> None:
    """A DNS-rebinding page sends its own name as Host (and no Origin on a same-origin GET)."""
    assert refusal(host=host, check_host=True) == HOST_REFUSED
    assert refusal(host=host) is None  # with authentication, Host is not checked


def test_without_auth_a_missing_or_doubled_host_is_refused() -> None:
    """HTTP/1.1 requires exactly one Host; anything else cannot be checked and is refused."""
    assert POLICY.refusal([], [], check_host=True) == HOST_REFUSED
    assert POLICY.refusal([], ["localhost", "evil.example"], check_host=True) == HOST_REFUSED


def test_the_refusal_never_repeats_what_the_client_sent() -> None:
    """The reason is fixed text, so it is safe in a response body and in logs."""
    sent = "https://<script>alert(1)</script>.example"
    assert sent not in (refusal(sent) or "")
    assert "evil" not in (refusal(host="evil.example", check_host=True) or "")


def test_parse_origin_normalises_scheme_host_and_default_port() -> None:
    """Two spellings of one origin compare equal."""
    assert parse_origin("HTTPS://Example.COM/") == parse_origin("https://example.com:443")
    assert str(parse_origin("http://[::1]")) == "http://[::1]:80"


def test_the_allow_list_setting_has_a_new_name_and_keeps_the_old_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """EXAI_ALLOWED_ORIGINS is the setting; EXAI_HTTP_ALLOWED_ORIGINS still works."""
    monkeypatch.setenv("EXAI_HTTP_ALLOWED_ORIGINS", "https://old.example")
    assert load_settings().origin_policy().refusal(["https://old.example"], [], check_host=False) is None
    monkeypatch.setenv("EXAI_ALLOWED_ORIGINS", "https://new.example")
    policy = load_settings().origin_policy()
    assert policy.refusal(["https://new.example"], [], check_host=False) is None
    assert policy.refusal(["https://old.example"], [], check_host=False) == ORIGIN_REFUSED  # new name wins


def test_an_unparsable_allow_list_entry_stops_start_up_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A typo in the list is a configuration error, not a silently ignored origin."""
    monkeypatch.setenv("EXAI_ALLOWED_ORIGINS", "https://ok.example,app.example.com")
    with pytest.raises(ConfigError, match="EXAI_ALLOWED_ORIGINS: entry 2"):
        load_settings()
