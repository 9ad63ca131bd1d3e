"""Which browser origins (and, for unauthenticated fronts, which Host names) every front answers.

Browsers apply no CORS to WebSockets and send no ``Origin`` on a same-origin GET, so a web page can
open a WebSocket to a local server, and a DNS-rebinding page can read one. Every front (the
WebSocket gateway, Streamable HTTP, the dashboard) asks the one :class:`OriginPolicy` built from
``EXAI_ALLOWED_ORIGINS``:

* a request with an ``Origin`` is answered only when that origin is loopback (``http(s)://localhost``,
  ``127.0.0.1``, ``[::1]``, any port) or listed; ``null``, several origins and anything unparsable are
  refused. Non-browser clients send no ``Origin`` and are not affected;
* a front without authentication also requires the ``Host`` header to name loopback or a host of
  the list, which is what defeats DNS rebinding (the rebinding page's requests carry its own name).

Origins compare as ``scheme://host:port``, lowercase, default ports made explicit, no trailing slash.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
LOCAL_SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}
SETTING = "EXAI_ALLOWED_ORIGINS"
# scheme "://" authority, nothing else: no user info, path, query, fragment, space or control character.
_ORIGIN_SHAPE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^\x00-\x20\x7f/?#@\\]+/?$")
# A Host header: a name or IPv4 address, or a bracketed IPv6 address, then an optional port.
_HOST_SHAPE = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9._-]+))(?::(?P<port>\d{1,5}))?$")

ORIGIN_REFUSED = f"Forbidden: this Origin is not allowed (list it in {SETTING})"
HOST_REFUSED = (
    "Forbidden: the Host header must name this machine (localhost, 127.0.0.1, [::1]) or a host of "
    f"{SETTING} when no authentication is configured"
)


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str  # lowercase; an IPv6 address without brackets
    port: int | None

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}" + ("" if self.port is None else f":{self.port}")


def parse_origin(text: str) -> Origin | None:
    """The normalised origin, or ``None`` for ``null`` and anything that is not ``scheme://host[:port]``."""
    if not _ORIGIN_SHAPE.match(text):
        return None
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:  # a port out of range or not a number, a broken IPv6 literal
        return None
    host = parts.hostname
    if not host:
        return None
    scheme = parts.scheme.lower()
    return Origin(scheme, host, port if port is not None else DEFAULT_PORTS.get(scheme))


def parse_host(header: str) -> str | None:
    """The host name of a ``Host`` header, lowercase (IPv6 without brackets), or ``None`` if malformed."""
    match = _HOST_SHAPE.match(header)
    if match is None or (match.group("port") and int(match.group("port")) > 65535):
        return None
    return (match.group("v6") or match.group("name")).lower()


def parse_allowed(text: str | None) -> tuple[Origin, ...]:
    """``"https://a.example,http://b.example:8080"`` → origins; raises ValueError naming a bad entry."""
    found: list[Origin] = []
    for number, item in enumerate((part.strip() for part in (text or "").split(",")), start=1):
        if not item:
            continue
        origin = parse_origin(item)
        if origin is None:
            raise ValueError(
                f"entry {number} ({item[:80]!r}) is not an origin like https://app.example.com[:port]"
            )
        found.append(origin)
    return tuple(found)


@dataclass(frozen=True)
class OriginPolicy:
    allowed: frozenset[Origin] = frozenset()

    @classmethod
    def from_text(cls, text: str | None) -> OriginPolicy:
        return cls(frozenset(parse_allowed(text)))

    @property
    def allowed_hosts(self) -> frozenset[str]:
        return frozenset(origin.host for origin in self.allowed)

    def origin_allowed(self, origin: Origin) -> bool:
        if origin.scheme in LOCAL_SCHEMES and origin.host in LOOPBACK_HOSTS:
            return True
        return origin in self.allowed

    def refusal(self, origins: Sequence[str], hosts: Sequence[str], *, check_host: bool) -> str | None:
        """Why a request with these ``Origin`` and ``Host`` header values is refused (HTTP 403), or None.

        ``check_host`` is for fronts running without authentication. The reason never repeats the
        headers, so it is safe to send back and to log.
        """
        if len(origins) > 1:
            return ORIGIN_REFUSED
        if origins:
            origin = parse_origin(origins[0])
            if origin is None or not self.origin_allowed(origin):
                return ORIGIN_REFUSED
        if check_host:
            host = parse_host(hosts[0]) if len(hosts) == 1 else None
            if host is None or (host not in LOOPBACK_HOSTS and host not in self.allowed_hosts):
                return HOST_REFUSED
        return None


def shown(value: str | None, limit: int = 100) -> str:
    """A header value an attacker chose, made safe for one log line (escaped, cut)."""
    return "none" if value is None else repr(value[:limit])
