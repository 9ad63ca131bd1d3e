"""Celery task events leave a gevent worker in batches (contracts.task_events), every call's among them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.events import EventTap, calls_at_once
from tests.support.stack import running_stack

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]
LIFECYCLE = {"task-received", "task-started", "task-succeeded"}


async def test_twenty_calls_at_once_send_their_task_events_in_a_few_batches(tmp_path: Path) -> None:
    with running_stack(tmp_path, EXAI_TASK_EVENT_BATCH_S="0.2") as stack:
        tap = EventTap(stack.env["REDIS_URL"])
        try:
            call_ids = await calls_at_once(stack.authed_url, 20, "batch")
            tap.wait_for(call_ids, LIFECYCLE)
        finally:
            tap.close()
    seen = tap.types_by_task()
    assert len(call_ids) == 20
    assert all(seen.get(c, set()) >= LIFECYCLE for c in call_ids), seen
    ours = [b for b in tap.messages if any(e["uuid"] in call_ids for e in b)]
    assert max(len(b) for b in ours) > 1  # batched
    assert len(ours) < 3 * len(call_ids)  # fewer messages than events
