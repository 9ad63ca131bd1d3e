"""MRTR's ``requestState``: sealed by the server, echoed by the client, verified on the retry.

A modern request that needs the client's input first is answered ``input_required``; what the
server needs to go on (the call id, the round, the tool's continuation) travels in
``requestState`` through the client, so the retry can reach any gateway process. The client is
an attacker here: the state is base64url(JSON payload) plus an HMAC-SHA256 tag over it, keyed by
a ring (the first key seals, every key verifies, so keys can be rotated), and it binds the
caller's identity, the method, the tool or prompt name, a digest of the arguments and an expiry.
Any mismatch, expiry, bad tag or oversize state is one ``-32602`` that never says which check
failed. The payload is signed, not encrypted: it holds only what the caller sent or may see.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from gateway.core.errors import InvalidParams

VERSION = "s1"
REFUSED = "Invalid params: requestState is not one this server issued for this request, or it expired"


def digest(arguments: Mapping[str, Any]) -> str:
    """A short digest of a request's arguments (key order does not matter)."""
    canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class RequestStates:
    """Seals and opens ``requestState`` values with a key ring shared by every gateway process."""

    def __init__(
        self,
        keys: Sequence[bytes],
        ttl_s: float,
        max_bytes: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not keys or not all(keys):
            raise ValueError("requestState needs at least one non-empty key")
        self.keys = tuple(keys)
        self.ttl_s = ttl_s
        self.max_bytes = max_bytes
        self.clock = clock

    def seal(
        self,
        *,
        identity: str,
        method: str,
        name: str,
        arguments: Mapping[str, Any],
        call_id: str | None,
        round: int,
        continuation: dict[str, Any] | None,
    ) -> str:
        """The ``requestState`` of one input round (ValueError when it would be too large)."""
        payload = {
            "sub": identity,
            "m": method,
            "n": name,
            "d": digest(arguments),
            "exp": round_up(self.clock() + self.ttl_s),
            "c": call_id,
            "r": round,
            "k": continuation,
        }
        body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).rstrip(b"=")
        token = f"{VERSION}.{body.decode()}.{self._tag(self.keys[0], body)}"
        if len(token) > self.max_bytes:
            raise ValueError(
                f"the input round's state is {len(token)} bytes, above EXAI_REQUEST_STATE_MAX_BYTES="
                f"{self.max_bytes}"
            )
        return token

    def open(
        self, token: Any, *, identity: str, method: str, name: str, arguments: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The payload of a state this server sealed for exactly this request; InvalidParams else."""
        if not isinstance(token, str) or len(token) > self.max_bytes:
            raise InvalidParams(REFUSED)
        version, _, rest = token.partition(".")
        body_text, _, tag = rest.rpartition(".")
        if version != VERSION or not body_text or not tag:
            raise InvalidParams(REFUSED)
        body = body_text.encode("ascii", "replace")
        if not any(hmac.compare_digest(self._tag(key, body), tag) for key in self.keys):
            raise InvalidParams(REFUSED)
        try:
            payload = json.loads(base64.urlsafe_b64decode(body + b"=" * (-len(body) % 4)))
        except (binascii.Error, ValueError):
            raise InvalidParams(REFUSED) from None
        expected = {"sub": identity, "m": method, "n": name, "d": digest(arguments)}
        if not isinstance(payload, dict) or any(payload.get(k) != v for k, v in expected.items()):
            raise InvalidParams(REFUSED)
        expiry = payload.get("exp")
        if not isinstance(expiry, int | float) or self.clock() > expiry:
            raise InvalidParams(REFUSED)
        round_ = payload.get("r")
        if not isinstance(round_, int) or round_ < 0:
            raise InvalidParams(REFUSED)
        return payload

    @staticmethod
    def _tag(key: bytes, body: bytes) -> str:
        mac = hmac.new(key, VERSION.encode() + b"." + body, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def round_up(value: float) -> int:
    return int(value) + 1


def input_responses(params: Mapping[str, Any]) -> dict[str, Any] | None:
    """A request's ``inputResponses``: None when absent; InvalidParams when it is not a map of
    answers (objects). Unknown keys are kept: the tool ignores what it did not ask."""
    if "inputResponses" not in params:
        return None
    responses = params["inputResponses"]
    if not isinstance(responses, dict):
        raise InvalidParams(
            "Invalid params: inputResponses must be an object of answers, by input request key"
        )
    for key, value in responses.items():
        if not isinstance(value, dict):
            raise InvalidParams(
                f"Invalid params: inputResponses[{key[:64]!r}] must be an object (the client's answer to "
                "that input request)"
            )
    return responses
