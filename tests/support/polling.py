"""Waiting for something another process will do, within a bound."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def eventually(
    probe: Callable[[], T | None],
    what: str,
    timeout: float,
    *,
    interval: float = 0.1,
    tolerate: tuple[type[BaseException], ...] = (),
) -> T:
    """Call ``probe`` until it returns something truthy and return that; fail after ``timeout``
    naming ``what`` and the last answer. Exceptions in ``tolerate`` count as a falsy answer."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = probe()
        except tolerate as exc:
            last = exc
        if last and not isinstance(last, BaseException):
            return last  # type: ignore[no-any-return]
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}; last: {last!r}")
        time.sleep(interval)
