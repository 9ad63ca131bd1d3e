"""A WebSocket transport for the ``mcp`` 2.x ``Client``, which has none of its own (test use only).

The 2.x ``Client`` takes any transport: an async context manager yielding a read stream of
``SessionMessage | Exception`` and a write stream of ``SessionMessage`` (``mcp.client._transport``).
This one carries one JSON-RPC message per text frame, offers the ``mcp`` subprotocol and sends the
bearer token in the handshake, as the gateway's WebSocket front expects (docs/architecture.md §6.7).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import mcp_types
from mcp.client._transport import TransportStreams
from mcp.shared.message import SessionMessage
from pydantic import ValidationError
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

MAX_FRAME_BYTES = 16 * 1024 * 1024  # a large tool result fits; the gateway enforces its own bound


@asynccontextmanager
async def websocket_transport(url: str, token: str | None = None) -> AsyncIterator[TransportStreams]:
    """Connect to ``url`` and yield the stream pair the ``Client`` drives; closed on exit."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    reader_send, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    write_stream, writer_receive = anyio.create_memory_object_stream[SessionMessage](0)
    async with connect(
        url, subprotocols=[Subprotocol("mcp")], additional_headers=headers, max_size=MAX_FRAME_BYTES
    ) as ws:

        async def frames_in() -> None:
            async with reader_send:
                async for text in ws:
                    try:
                        message = mcp_types.jsonrpc_message_adapter.validate_json(text, by_name=False)
                    except ValidationError as exc:
                        await reader_send.send(exc)  # the session reports it; the stream goes on
                        continue
                    await reader_send.send(SessionMessage(message))

        async def frames_out() -> None:
            async with writer_receive:
                async for outgoing in writer_receive:
                    await ws.send(outgoing.message.model_dump_json(by_alias=True, exclude_unset=True))

        async with anyio.create_task_group() as group:
            group.start_soon(frames_in)
            group.start_soon(frames_out)
            try:
                yield read_stream, write_stream
            finally:
                group.cancel_scope.cancel()
