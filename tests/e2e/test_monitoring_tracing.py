"""Tracing across real processes: the gateway's and the worker's spans of one call form one trace."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anyio
import pytest

from tests.support.clients import mcp_session, raw_client
from tests.support.stack import Stack, running_stack

trace_service = pytest.importorskip("opentelemetry.proto.collector.trace.v1.trace_service_pb2")
pytestmark = [pytest.mark.anyio, pytest.mark.e2e]
WAIT = 45.0


class Collector:
    """A minimal OTLP/HTTP receiver: decodes every span posted to /v1/traces."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.changed = threading.Condition()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                request = trace_service.ExportTraceServiceRequest()
                request.ParseFromString(body)
                found = [
                    {
                        "name": span.name,
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent": span.parent_span_id.hex(),
                        "service": next(
                            (a.value.string_value for a in rs.resource.attributes if a.key == "service.name"),
                            "",
                        ),
                    }
                    for rs in request.resource_spans
                    for ss in rs.scope_spans
                    for span in ss.spans
                ]
                with collector.changed:
                    collector.spans.extend(found)
                    collector.changed.notify_all()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, names: set[str], timeout: float = WAIT) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self.changed:
            while not names <= {s["name"] for s in self.spans}:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"spans {names} never arrived; got {self.spans}")
                self.changed.wait(remaining)
            return list(self.spans)

    def wait_for_trace(self, trace_id: str, names: set[str], timeout: float = WAIT) -> list[dict[str, Any]]:
        """The spans of one trace, once it holds spans of every name in ``names``."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not names <= {s["name"] for s in self.spans if s["trace_id"] == trace_id}:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"trace {trace_id} never had {names}; got {self.spans}")
                self.changed.wait(remaining)
            return [s for s in self.spans if s["trace_id"] == trace_id]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    receiver = Collector()
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, collector: Collector) -> Iterator[Stack]:
    """A stack whose gateway and worker export spans over OTLP/HTTP to the test's collector."""
    with running_stack(
        tmp_path_factory.mktemp("tracing"),
        EXAI_OTEL_ENABLED="true",
        OTEL_EXPORTER_OTLP_ENDPOINT=collector.url,
        OTEL_BSP_SCHEDULE_DELAY="100",
    ) as running:
        yield running


async def test_one_call_is_one_trace_from_gateway_through_celery_to_the_provider(
    stack: Stack, collector: Collector
) -> None:
    """tools/call (gateway) → task (worker, via the task headers) → provider call, all one trace."""
    async with mcp_session(stack.authed_url) as session:
        with anyio.fail_after(WAIT):
            result = await session.call_tool("chat", {"prompt": "trace me", "model": "kimi-k2.6"})
    assert result.isError is False
    spans = await anyio.to_thread.run_sync(
        lambda: collector.wait_for({"tools/call", "task exai.tool.chat", "kimi chat"})
    )
    gateway = next(s for s in spans if s["name"] == "tools/call")
    task = next(
        s for s in spans if s["name"] == "task exai.tool.chat" and s["trace_id"] == gateway["trace_id"]
    )
    provider = next(s for s in spans if s["name"] == "kimi chat" and s["trace_id"] == gateway["trace_id"])
    assert task["parent"] == gateway["span_id"]
    assert provider["parent"] == task["span_id"]
    assert (gateway["service"], task["service"]) == ("exai-gateway", "exai-worker")


async def test_a_traceparent_in_meta_joins_the_callers_trace(stack: Stack, collector: Collector) -> None:
    """A modern request carrying W3C traceparent in _meta: the gateway's span is a child of the
    caller's span, and the worker's task span follows in the same trace."""
    trace_id, parent = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
    meta = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "traceparent": f"00-{trace_id}-{parent}-01",
    }
    async with raw_client(stack.authed_url) as client:
        answer = await client.request(1, "tools/call", {"name": "version", "arguments": {}, "_meta": meta})
    assert answer["result"]["isError"] is False
    names = {"tools/call", "task exai.tool.version"}
    spans = await anyio.to_thread.run_sync(lambda: collector.wait_for_trace(trace_id, names))
    gateway = next(s for s in spans if s["name"] == "tools/call")
    task = next(s for s in spans if s["name"] == "task exai.tool.version")
    assert gateway["parent"] == parent and task["parent"] == gateway["span_id"]
