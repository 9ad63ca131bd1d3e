"""Who a connecting client is: a bearer token in the handshake, compared in constant time."""

from __future__ import annotations

import hmac
from urllib.parse import parse_qs, urlsplit

from websockets.http11 import Request

ANONYMOUS = "anonymous"


class Authenticator:
    def __init__(self, tokens: dict[str, str]) -> None:
        """``tokens`` maps each client name to its secret; empty means no authentication."""
        self._tokens = [(name, secret.encode()) for name, secret in tokens.items()]

    @property
    def required(self) -> bool:
        return bool(self._tokens)

    def identify(self, request: Request) -> str | None:
        """The client's name, or ``None`` when a token is required and missing or wrong."""
        if not self._tokens:
            return ANONYMOUS
        return self.identify_token(_offered_token(request))

    def identify_token(self, offered: bytes | str | None) -> str | None:
        """Like :meth:`identify`, for a token that came another way (old hello frame, HTTP header)."""
        if not self._tokens:
            return ANONYMOUS
        if offered is None:
            return None
        if isinstance(offered, str):
            offered = offered.encode()
        found = None
        for name, secret in self._tokens:
            # Compare against every token, so timing tells nothing about which one nearly matched.
            if hmac.compare_digest(offered, secret):
                found = name
        return found


def _offered_token(request: Request) -> bytes | None:
    header = request.headers.get("Authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip().encode()
    query = parse_qs(urlsplit(request.path).query)
    values = query.get("token")
    return values[0].encode() if values else None
