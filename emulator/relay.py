"""A TCP relay that puts a simulated distance between clients and the emulator.

The model, per connection (``rtt`` is the round trip, ``rtt / 2`` the one-way latency):

* every chunk of bytes, in either direction, is forwarded ``rtt / 2`` after it arrived, in order
  (latency only: no bandwidth limit, so chunks sent together stay together);
* a client's first bytes are held one extra ``rtt`` after the connection was accepted. On loopback
  the kernel completes the TCP handshake at once, so a client can send at once; over a WAN its
  first bytes could only leave after the SYN / SYN-ACK round trip.

So a new plain-HTTP connection costs 2 RTT to the first byte of the answer (TCP, then the request),
a new TLS 1.3 connection 3 RTT (TCP, the handshake, the request), and a reused one 1 RTT, as on a
real network. The end of a stream travels like data: it is passed on ``rtt / 2`` later.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

CHUNK_BYTES = 65536


@dataclass
class LatencyRelay:
    upstream_host: str
    upstream_port: int
    rtt_s: float
    connections: int = 0  # accepted so far
    _pumps: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self, host: str, port: int) -> asyncio.Server:
        """Listen on ``host``:``port`` (0: a free port); the caller closes the server it returns."""
        return await asyncio.start_server(self._relay, host, port, backlog=1024)

    async def close(self) -> None:
        """End every relayed connection."""
        for task in list(self._pumps):
            task.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)

    async def _relay(self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
        self.connections += 1
        accepted = asyncio.get_running_loop().time()
        try:
            upstream_in, upstream_out = await asyncio.open_connection(self.upstream_host, self.upstream_port)
        except OSError:
            client_out.close()
            return
        task = asyncio.current_task()
        assert task is not None
        self._pumps.add(task)
        try:
            await asyncio.gather(
                self._pump(client_in, upstream_out, not_before=accepted + self.rtt_s),
                self._pump(upstream_in, client_out, not_before=accepted),
            )
        except (OSError, asyncio.IncompleteReadError):
            pass  # one side reset the connection: end the other as well
        finally:
            self._pumps.discard(task)
            for writer in (client_out, upstream_out):
                writer.close()

    async def _pump(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, not_before: float
    ) -> None:
        """Copy ``source`` to ``sink``, each chunk delayed by the one-way latency (see the module)."""
        loop = asyncio.get_running_loop()
        one_way = self.rtt_s / 2
        queued: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queued.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    if sink.can_write_eof():
                        with contextlib.suppress(OSError):
                            sink.write_eof()
                    return
                sink.write(data)
                await sink.drain()

        async def read() -> None:
            while True:
                data = await source.read(CHUNK_BYTES)
                queued.put_nowait((max(loop.time(), not_before) + one_way, data))
                if not data:
                    return

        tasks = {asyncio.create_task(read()), asyncio.create_task(deliver())}
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()  # a reset on either side ends this direction with its error
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
