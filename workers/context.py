"""What a tool implementation gets to work with: its job, settings, providers, progress, cancellation,
the client's declared capabilities and answers (input rounds), and per-call logging."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis
from celery import Celery

from contracts.answers import LOG_LEVELS, declares
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


class LogSink(Protocol):
    def __call__(self, message: dict[str, Any], progress: float) -> None: ...


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
    # Publishes a log message to the caller; None when nobody listens (Job.log is false).
    log_sink: LogSink | None = None
    _last_report: float = field(default=0.0, init=False)
    _last_value: float = field(default=-1.0, init=False)
    _unsent_text: list[str] = field(default_factory=list, init=False)

    @property
    def call_id(self) -> str:
        return self.job.call_id

    @property
    def deadline(self) -> float:
        return self.job.deadline

    # --- the client, and input rounds (see contracts.answers.NeedInput) -----------------------
    @property
    def client_capabilities(self) -> dict[str, Any]:
        return self.job.client_capabilities

    @property
    def input_responses(self) -> dict[str, Any] | None:
        """The client's answers to the previous round's input requests, by request key."""
        return self.job.input_responses

    @property
    def continuation(self) -> dict[str, Any] | None:
        """What this tool's NeedInput asked to get back on this round."""
        return self.job.continuation

    @property
    def round(self) -> int:
        return self.job.round

    def declares(self, capability: str) -> bool:
        """Whether the client declared ``capability`` (elicitation, sampling, roots …)."""
        return declares(self.job.client_capabilities, capability)

    def log(self, level: str, data: Any, logger: str | None = None) -> None:
        """Send the caller a log message (notifications/message), if it listens for this call's logs.

        The gateway passes on only what is at or above the level the client asked for; ``data``
        is any JSON value. Never put secrets in it: it goes to the client as it is.
        """
        if level not in LOG_LEVELS:
            raise ValueError(f"log level must be one of {', '.join(LOG_LEVELS)}, got {level!r}")
        if self.log_sink is None:
            return
        message: dict[str, Any] = {"level": level, "data": data}
        if logger:
            message["logger"] = logger
        self.log_sink(message, max(self._last_value, 0.0))

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` without holding up cancellation or the deadline (both raise at once)."""
        end = time.monotonic() + seconds
        while True:
            self.check()
            left = min(end - time.monotonic(), self.job.remaining())
            if left <= 0:
                self.check()
                return
            self.cancel.wait(left)

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
