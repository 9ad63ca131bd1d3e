"""What a tool implementation gets to work with: its job, settings, providers, progress, cancellation."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import redis
from celery import Celery

from contracts.errors import DeadlineExceeded
from contracts.job import Job
from contracts.settings import Settings
from workers.cancellation import CancelToken
from workers.providers.base import ProviderClient
from workers.write_behind import WriteBehind


class ProgressSink(Protocol):
    def __call__(
        self, value: float, total: float | None, message: str | None, text: str | None = None
    ) -> None: ...


@dataclass
class ToolContext:
    job: Job
    settings: Settings
    cancel: CancelToken
    provider: Callable[[str], ProviderClient]
    report: ProgressSink
    min_interval: float = 0.0
    # Threads, consensus and status need Redis and the Celery app; unit tests may leave them out.
    redis: redis.Redis | None = None
    celery: Celery | None = None
    # Writes that may wait for the round trip storing the outcome (see workers.write_behind).
    after: WriteBehind | None = None
    # Writes sent with the call's final outcome only: never with a provider call's admission, and
    # dropped when the call is scheduled for a retry (giving back a conversation turn reserved).
    settle: WriteBehind | None = None
    _last_report: float = field(default=0.0, init=False)
    _last_value: float = field(default=-1.0, init=False)
    _unsent_text: list[str] = field(default_factory=list, init=False)

    @property
    def call_id(self) -> str:
        return self.job.call_id

    @property
    def deadline(self) -> float:
        return self.job.deadline

    def progress(
        self,
        value: float,
        total: float | None = None,
        message: str | None = None,
        *,
        force: bool = False,
        text: str | None = None,
    ) -> None:
        """Report progress, at most once per ``min_interval`` unless ``force``; values only grow.

        ``text`` is answer text streamed since the last call; text of throttled reports is kept
        and sent with the next one, so a client reading it sees the answer in order.
        """
        if text:
            self._unsent_text.append(text)
        if value <= self._last_value:
            return
        now = time.monotonic()
        if not force and now - self._last_report < self.min_interval:
            return
        self._last_report = now
        self._last_value = value
        streamed = "".join(self._unsent_text) or None
        self._unsent_text.clear()
        self.report(value, total, message, streamed)

    def check(self) -> None:
        """Stop here if the call was cancelled or ran out of time."""
        self.cancel.raise_if_set()
        if self.job.remaining() <= 0:
            raise DeadlineExceeded(
                f"the call ran past its deadline of {self.settings.exai_call_timeout_s:.0f} s "
                "(EXAI_CALL_TIMEOUT_S)"
            )
