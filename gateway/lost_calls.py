"""Finding calls whose queue message Redis lost, so the gateway can send them again.

kombu takes a message off the queue with ``BRPOP`` and only afterwards records it as unacknowledged.
When Redis stops between the two, or its reply to ``BRPOP`` never reaches the worker, the message
exists nowhere: no worker runs the call and no visibility timeout brings it back, so the caller
would wait for the call's deadline. A call is *missing* when it has no outcome, no claim (no worker
runs it or parks it for a retry), and its message is neither in the queue nor unacknowledged. A
call found missing twice in a row, one check apart, is reported lost; a false alarm costs one
duplicate message, which the worker answers from the stored outcome or the live claim without
calling the provider again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import redis.asyncio as aioredis

from contracts.names import TOOL_QUEUE, UNACKED_KEY, claim_key, result_key
from contracts.queue import message_task_id, unacked_message

CHUNK = 1000


class LostCallFinder:
    def __init__(self, client: aioredis.Redis, scan_max: int) -> None:
        self._client = client
        self._scan_max = scan_max  # messages read at most per check (EXAI_LOST_CALL_SCAN_MAX)
        self._missing: set[str] = set()

    async def check(self, call_ids: Iterable[str]) -> list[str]:
        """Return the calls among ``call_ids`` missing now and at the previous check."""
        candidates = await self._unclaimed_without_outcome(list(call_ids))
        if candidates:
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.llen(TOOL_QUEUE)
                pipe.hlen(UNACKED_KEY)
                queued, delivered = await pipe.execute()
            if queued + delivered > self._scan_max:
                # Too many messages to read every check: look again once the backlog is smaller
                # (a lost call is then found later, never a queued one taken for lost).
                self._missing = set()
                return []
            candidates -= await self._message_ids()
        lost = sorted(candidates & self._missing)
        self._missing = candidates - set(lost)
        return lost

    async def _unclaimed_without_outcome(self, call_ids: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(call_ids), CHUNK):
            batch = call_ids[start : start + CHUNK]
            async with self._client.pipeline(transaction=False) as pipe:
                for call_id in batch:
                    pipe.exists(result_key(call_id), claim_key(call_id))
                counts = await pipe.execute()
            found.update(call_id for call_id, count in zip(batch, counts, strict=True) if count == 0)
        return found

    async def _message_ids(self) -> set[str | None]:
        """Call ids of every message waiting in the queue or delivered and not yet acknowledged."""
        ids: set[str | None] = set()
        # The unacknowledged set first: a message moves from the queue into it, never back
        # (except by the reaper, which puts it at the head where the second scan sees it).
        async for _tag, raw in self._client.hscan_iter(UNACKED_KEY, count=CHUNK):
            message = unacked_message(raw)
            if message is not None:
                ids.add(message[2])
        start = 0
        while True:
            chunk = await self._client.lrange(TOOL_QUEUE, start, start + CHUNK - 1)
            for raw in chunk:
                try:
                    ids.add(message_task_id(json.loads(raw)))
                except (ValueError, TypeError):
                    continue
            if len(chunk) < CHUNK:
                return ids
            start += CHUNK
