"""Logging for every process: to stderr, with the call's correlation id on every line.

The correlation id lives in a contextvar, so it follows a call through asyncio tasks in the gateway
and through the task body in a worker without being passed around.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

correlation_id: contextvars.ContextVar[str] = contextvars.ContextVar("correlation_id", default="-")


# In our task summary (correlation_id=…) or in the repr of a dict argument ('correlation_id': '…').
_SUMMARY_CORRELATION = re.compile(r"correlation_id(?:=|': ')([A-Za-z0-9._:-]{1,128})")


def task_summary(tool: str, call_id: str, correlation: str) -> str:
    """What Celery logs and shows (Flower, events) for a tool task instead of its arguments.

    Arguments hold prompts, which must not reach logs; the correlation id in here also lets Celery's
    own lines about a task ("received", "succeeded") carry it, as they are logged outside the task.
    """
    return f"{{tool={tool} call_id={call_id} correlation_id={correlation}}}"


class _CorrelationFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        current = correlation_id.get()
        if current == "-":
            # Celery's lines about a task pass its context as `data`, with our task_summary in it.
            data = getattr(record, "data", None)
            fields = data if isinstance(data, dict) else {}
            for field in ("kwargs", "args"):
                text = fields.get(field)
                found = _SUMMARY_CORRELATION.search(text) if isinstance(text, str) else None
                if found:
                    current = found.group(1)
                    break
        record.correlation_id = current
        return True


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}+00:00",
            "level": record.levelname,
            "logger": record.name,
            "correlation_id": getattr(record, "correlation_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            payload["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(payload)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s"


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Send every log line to stderr (stdout is reserved for protocol in stdio mode)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_CorrelationFilter())
    handler.setFormatter(_JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # httpx logs every request at INFO; that is noise at the volume a worker makes them.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("httpcore").setLevel(max(logging.WARNING, root.level))


@contextmanager
def correlated(value: str) -> Iterator[None]:
    token = correlation_id.set(value)
    try:
        yield
    finally:
        correlation_id.reset(token)


def install_filter(logger: logging.Logger) -> None:
    """Add the correlation id to records of handlers someone else installed (Celery's)."""
    for handler in logger.handlers:
        if not any(isinstance(f, _CorrelationFilter) for f in handler.filters):
            handler.addFilter(_CorrelationFilter())
