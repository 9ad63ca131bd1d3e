"""Optional OpenTelemetry tracing of a call: gateway → Celery task → provider HTTP call.

Off by default (``EXAI_OTEL_ENABLED``); needs the ``tracing`` extra. The gateway's span context
travels in the Celery task headers (W3C ``traceparent``), the worker continues it for the task, and
each provider call is a child span. Everything here is a no-op while tracing is off, so callers
never check.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from contracts.settings import Settings

log = logging.getLogger(__name__)

_tracer: Any = None  # an opentelemetry Tracer once set up
_propagator: Any = None
HEADERS = ("traceparent", "tracestate")


def setup(settings: Settings, service: str, exporter: Any = None) -> bool:
    """Start tracing for this process if enabled; ``exporter`` replaces OTLP (tests pass one)."""
    global _tracer, _propagator
    if not settings.exai_otel_enabled:
        return False
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
    except ImportError:
        log.warning(
            "EXAI_OTEL_ENABLED is set but OpenTelemetry is not installed: pip install 'exai-mcp[tracing]'"
        )
        return False
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        try:  # the standard OTEL_EXPORTER_OTLP_* variables say where spans go
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            log.warning("no OTLP exporter installed: pip install 'exai-mcp[tracing]'; spans are dropped")
            return False
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    _tracer = provider.get_tracer("exai")
    _propagator = TraceContextTextMapPropagator()
    return True


def enabled() -> bool:
    return _tracer is not None


@contextmanager
def span(name: str, **attributes: Any) -> Iterator[None]:
    """A span under the current one (none while tracing is off)."""
    if _tracer is None:
        yield
        return
    with _tracer.start_as_current_span(name, attributes=_clean(attributes)):
        yield


class OpenSpan:
    """A span started now and ended later, made current by each asyncio task that works under it
    (a call's queueing and the wait for its answer run in different tasks)."""

    def __init__(
        self, name: str, attributes: dict[str, Any], parent: Mapping[str, str] | None = None
    ) -> None:
        from opentelemetry import trace

        context = None
        if parent and parent.get("traceparent"):
            # A client's trace context (MCP _meta traceparent): the call joins the client's trace.
            context = _propagator.extract({k: str(parent[k]) for k in HEADERS if parent.get(k)})
        self._span = _tracer.start_span(name, context=context, attributes=_clean(attributes))
        self._context = trace.set_span_in_context(self._span)

    @contextmanager
    def current(self) -> Iterator[None]:
        from opentelemetry import context

        token = context.attach(self._context)
        try:
            yield
        finally:
            context.detach(token)

    def end(self) -> None:
        self._span.end()


def start(name: str, parent: Mapping[str, str] | None = None, **attributes: Any) -> OpenSpan | None:
    """A span under the current one — or under ``parent``'s trace context (W3C ``traceparent`` /
    ``tracestate`` headers or ``_meta`` keys) when it has one — to be made current with
    :func:`current` and ended by the caller (None while tracing is off)."""
    return OpenSpan(name, attributes, parent) if _tracer is not None else None


@contextmanager
def current(opened: OpenSpan | None) -> Iterator[None]:
    """Make a span from :func:`start` the current one for the block (nothing for None)."""
    if opened is None:
        yield
        return
    with opened.current():
        yield


def inject() -> dict[str, str]:
    """The current span context as headers to send along (empty while tracing is off)."""
    carrier: dict[str, str] = {}
    if _propagator is not None:
        _propagator.inject(carrier)
    return carrier


class TaskSpan:
    """A span continued from incoming headers and made current until ``end``."""

    def __init__(self, name: str, headers: Mapping[str, Any], attributes: dict[str, Any]) -> None:
        from opentelemetry import context, trace

        carrier = {k: str(headers[k]) for k in HEADERS if headers.get(k)}
        parent = _propagator.extract(carrier)
        self._span = _tracer.start_span(name, context=parent, attributes=_clean(attributes))
        self._token = context.attach(trace.set_span_in_context(self._span, parent))

    def end(self, status: str) -> None:
        from opentelemetry import context

        self._span.set_attribute("exai.status", status)
        self._span.end()
        with contextlib.suppress(ValueError):  # ended from another context: the span is closed anyway
            context.detach(self._token)


def continue_task(name: str, headers: Mapping[str, Any], **attributes: Any) -> TaskSpan | None:
    return TaskSpan(name, headers, attributes) if _tracer is not None else None


def _clean(attributes: dict[str, Any]) -> dict[str, Any]:
    return {f"exai.{k}": v for k, v in attributes.items() if isinstance(v, str | int | float | bool)}
