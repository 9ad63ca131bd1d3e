"""How one Streamable HTTP request is answered: a JSON body, or a Server-Sent Events stream.

A :class:`StreamSink` collects the frames the core posts for one request (or a legacy session's
GET stream). :func:`respond` answers with JSON when the answer comes first — with the HTTP status
of a modern error — and with SSE when the method streams (a call, a wait, a listen stream) or a
notification or server request comes before the answer. SSE streams carry ``X-Accel-Buffering: no``
(proxies must not hold events back) and a comment line every ``keepalive_s`` while silent. A client
that reads only JSON gets the answer alone (progress has nowhere to go then).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
KEEPALIVE = b": keep-alive\n\n"
DROP_AFTER = 1000  # droppable frames (progress) queued for a slow reader past this are dropped
Item = tuple[str, bool]  # a frame, and whether it is the request's answer


def sse(frame: str) -> bytes:
    return f"event: message\ndata: {frame}\n\n".encode()


class StreamSink:
    """The frames of one HTTP request (or of a session's GET stream), in order."""

    def __init__(self, statuses: bool = True) -> None:
        self.queue: asyncio.Queue[Item | None] = asyncio.Queue()
        self.statuses = statuses  # modern: an error carries its HTTP status; legacy: always 200
        self.status = 200
        self.open = True

    def post(self, frame: str, droppable: bool = False, final: bool = False) -> None:
        if not self.open or (droppable and self.queue.qsize() >= DROP_AFTER):
            return
        self.queue.put_nowait((frame, final))

    def reject(self, http_status: int) -> None:
        if self.statuses and self.status == 200:
            self.status = http_status

    def end(self) -> None:
        self.queue.put_nowait(None)

    @property
    def backlog(self) -> int:
        return self.queue.qsize()


async def respond(
    request: web.Request, sink: StreamSink, *, streamed: bool, sse_ok: bool, keepalive_s: float
) -> web.StreamResponse:
    """The HTTP answer of one request whose message the core already has."""
    first: Item | None = None
    if not (streamed and sse_ok and sink.queue.empty()):
        while True:  # returns at once when something is queued already (a refusal, a listen ack)
            item = await sink.queue.get()
            if item is None:
                return web.Response(status=204)
            if item[1]:
                return web.Response(text=item[0], status=sink.status, content_type="application/json")
            if sse_ok:
                first = item  # a notification or a request of ours comes first: stream it
                break
            # A client reading only JSON: progress and notifications have no stream to go to.
    response = web.StreamResponse(status=200, headers=SSE_HEADERS)
    await response.prepare(request)
    if first is not None:
        await response.write(sse(first[0]))
    while True:
        try:
            item = await asyncio.wait_for(sink.queue.get(), keepalive_s)
        except TimeoutError:
            await response.write(KEEPALIVE)  # proxies close silent streams
            continue
        if item is None:
            break
        await response.write(sse(item[0]))
        if item[1]:
            break
    await response.write_eof()
    return response


async def stream(request: web.Request, sink: StreamSink, keepalive_s: float) -> web.StreamResponse:
    """A legacy session's GET stream: every frame until the sink ends (or the client leaves)."""
    response = web.StreamResponse(status=200, headers=SSE_HEADERS)
    await response.prepare(request)
    while True:
        try:
            item: Any = await asyncio.wait_for(sink.queue.get(), keepalive_s)
        except TimeoutError:
            await response.write(KEEPALIVE)
            continue
        if item is None:
            break
        await response.write(sse(item[0]))
    await response.write_eof()
    return response
