"""A ToolContext for running tool functions in a test, with a provider that counts its calls."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis

from contracts.job import Job
from contracts.settings import Settings
from workers.cancellation import CancelToken
from workers.context import ToolContext
from workers.providers.base import ChatRequest, ChatResponse, OnDelta, Usage
from workers.write_behind import WriteBehind


class CountingProvider:
    """Answers every chat with a canned text (or raises ``error``) and counts the calls; ``hold``
    lets a test keep a call inside the provider until it says so (bounded, so nothing waits forever)."""

    def __init__(
        self, name: str = "kimi", hold: threading.Event | None = None, error: Exception | None = None
    ) -> None:
        self.name = name
        self.calls: list[ChatRequest] = []
        self.entered = threading.Event()
        self._hold = hold
        self._error = error
        self._lock = threading.Lock()

    def chat(
        self,
        request: ChatRequest,
        *,
        request_id: str,
        deadline: float,
        cancel: CancelToken | None = None,
        on_delta: OnDelta | None = None,
    ) -> ChatResponse:
        with self._lock:
            self.calls.append(request)
        self.entered.set()
        if self._hold is not None:
            self._hold.wait(5)
        if self._error is not None:
            raise self._error
        return ChatResponse(text="answer", model=request.model, provider=self.name, usage=Usage(1, 1, 2))


def tool_context(
    settings: Settings,
    provider: CountingProvider,
    *,
    client: redis.Redis | None = None,
    owner: str = "alice",
    call_id: str | None = None,
    timeout_s: float = 60.0,
) -> ToolContext:
    call = call_id or str(uuid.uuid4())
    job = Job(
        call_id=call,
        tool="chat",
        deadline=time.time() + timeout_s,
        client=owner,
        correlation_id=f"corr-{call}",
        progress=False,
    )
    providers: Callable[[str], Any] = lambda _name: provider  # noqa: E731
    return ToolContext(
        job=job,
        settings=settings,
        cancel=CancelToken(),
        provider=providers,
        report=lambda value, total, message, text=None: None,
        redis=client,
        after=WriteBehind(),
        settle=WriteBehind(),
    )
