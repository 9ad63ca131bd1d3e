"""How long to wait before retrying a transient provider failure (no I/O here)."""

from __future__ import annotations

import random
from collections.abc import Callable

# 2**60 times any sensible base is far past any maximum; larger exponents would overflow a float.
_MAX_EXPONENT = 60


def compute_backoff(
    attempt: int,
    *,
    base: float,
    maximum: float,
    retry_after: float | None = None,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before retry number ``attempt`` (0 for the first retry).

    Exponential backoff with full jitter: a uniform draw in ``[0, min(maximum, base * 2**attempt)]``,
    so many workers hit by the same failure spread their retries instead of returning together.

    ``retry_after`` (the provider's ``Retry-After``) is a lower bound and is *not* capped at
    ``maximum``: retrying before the provider said it would accept the call only earns another 429
    and spends a request of a budget that can be as small as 3 per minute. ``maximum`` bounds our own
    guesses; the call's deadline bounds everything, so the retry loop must give up instead of sleeping
    when the returned delay would end past the deadline.
    """
    if attempt < 0:
        raise ValueError(f"attempt must be 0 or more, got {attempt}")
    if base < 0 or maximum < 0:
        raise ValueError("base and maximum must not be negative")
    ceiling = min(maximum, base * 2.0 ** min(attempt, _MAX_EXPONENT))
    delay = rand() * ceiling
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay
