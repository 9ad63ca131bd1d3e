"""Error answers in each provider's own shape, so client classification is tested on real bodies.

Kimi names the error in ``error.type``; GLM puts a numeric **string** in ``error.code``.
"""

from __future__ import annotations

import math
from typing import Any

from aiohttp import web

# (provider, kind) -> (HTTP status, error object)
_BODIES: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {
    ("kimi", "rate_limit"): (
        429,
        {
            "message": "Your account org-emulated request reached organization max concurrency: 1, "
            "please try again after 1 seconds",
            "type": "rate_limit_reached_error",
        },
    ),
    ("kimi", "overloaded"): (
        429,
        {
            "message": "The engine is currently overloaded, please try again later",
            "type": "engine_overloaded_error",
        },
    ),
    ("kimi", "quota"): (
        429,
        {
            "message": "Your account org-emulated is suspended, please check your plan and billing details",
            "type": "exceeded_current_quota_error",
        },
    ),
    ("kimi", "auth"): (401, {"message": "Invalid Authentication", "type": "invalid_authentication_error"}),
    ("kimi", "server_error"): (500, {"message": "Internal server error", "type": "server_error"}),
    ("kimi", "bad_request"): (400, {"message": "", "type": "invalid_request_error"}),
    ("glm", "rate_limit"): (
        429,
        {
            "code": "1302",
            "message": "High concurrency usage of this API, please reduce concurrency or contact "
            "customer service to increase limits",
        },
    ),
    ("glm", "overloaded"): (
        429,
        {"code": "1312", "message": "The model is currently busy, please try again later"},
    ),
    ("glm", "quota"): (
        429,
        {"code": "1308", "message": "Usage limit reached for your plan, the limit will reset later"},
    ),
    ("glm", "auth"): (
        401,
        {"code": "1002", "message": "Authorization Token is invalid, please check the token you passed"},
    ),
    ("glm", "server_error"): (500, {"code": "500", "message": "Internal Error"}),
    ("glm", "bad_request"): (400, {"code": "1214", "message": ""}),
}

ERROR_KINDS = frozenset(kind for _, kind in _BODIES)


def error_response(
    provider: str, kind: str, *, retry_after: float | None = None, message: str | None = None
) -> web.Response:
    """The provider's answer for ``kind``; ``message`` replaces the canned text (used for 400s)."""
    status, error = _BODIES[(provider, kind)]
    error = dict(error)
    if message is not None:
        error["message"] = message
    headers: dict[str, str] = {}
    if retry_after is not None:
        # Retry-After is whole seconds on the wire; round up so a client never retries too early.
        headers["Retry-After"] = str(max(0, math.ceil(retry_after)))
    return web.json_response({"error": error}, status=status, headers=headers)
