"""The fault queue: failures queued at run time that the next chat calls answer with."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from contracts.models import PROVIDERS

# Faults answered with the provider's own error body (see emulator.errors).
BODY_FAULTS = ("rate_limit", "overloaded", "quota", "auth", "server_error")
# Faults on the connection itself: never answer, or drop the TCP connection without an answer.
CONNECTION_FAULTS = ("hang", "disconnect")
FAULT_KINDS = BODY_FAULTS + CONNECTION_FAULTS
ANY_PROVIDER = "*"
UNTIL_RESET = -1


@dataclass(frozen=True)
class Fault:
    provider: str  # "kimi", "glm" or "*"
    kind: str
    remaining: int  # calls still to answer with this fault; UNTIL_RESET for an outage
    retry_after: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_fault(spec: Any) -> Fault:
    """Validate a ``POST /_emulator/faults`` body; raises ValueError naming what is wrong."""
    if not isinstance(spec, dict):
        raise ValueError("the body must be a JSON object")
    provider = spec.get("provider", ANY_PROVIDER)
    if provider not in (*PROVIDERS, ANY_PROVIDER):
        raise ValueError(f"provider must be one of {', '.join((*PROVIDERS, ANY_PROVIDER))}, got {provider!r}")
    kind = spec.get("kind")
    if kind not in FAULT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)}, got {kind!r}")
    count = spec.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or (count < 1 and count != UNTIL_RESET):
        raise ValueError(f"count must be a positive integer or {UNTIL_RESET} (until reset), got {count!r}")
    retry_after = spec.get("retry_after")
    if retry_after is not None and (
        not isinstance(retry_after, int | float) or isinstance(retry_after, bool) or retry_after < 0
    ):
        raise ValueError(f"retry_after must be a non-negative number of seconds, got {retry_after!r}")
    return Fault(provider, kind, count, None if retry_after is None else float(retry_after))


class FaultQueue:
    """Faults in the order they were queued; a call takes the first one that matches its provider."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        self._faults.append(fault)

    def take(self, provider: str) -> Fault | None:
        for index, fault in enumerate(self._faults):
            if fault.provider not in (provider, ANY_PROVIDER):
                continue
            if fault.remaining == UNTIL_RESET:
                return fault
            if fault.remaining > 1:
                self._faults[index] = replace(fault, remaining=fault.remaining - 1)
            else:
                del self._faults[index]
            return fault
        return None

    def pending(self) -> list[dict[str, Any]]:
        return [fault.as_dict() for fault in self._faults]

    def clear(self) -> None:
        self._faults.clear()
