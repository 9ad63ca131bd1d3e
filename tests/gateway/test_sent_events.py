"""The gateway's task-sent events reach Celery's event stream, several to a message."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.events import EventTap, calls_at_once
from tests.support.stack import running_stack

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


async def test_calls_sent_together_share_their_task_sent_message(tmp_path: Path) -> None:
    with running_stack(tmp_path, EXAI_TASK_EVENT_BATCH_S="0.3") as stack:
        tap = EventTap(stack.env["REDIS_URL"])
        try:
            call_ids = await calls_at_once(stack.authed_url, 10, "sent")
            tap.wait_for(call_ids, {"task-sent"})
        finally:
            tap.close()
    sent = [[e for e in batch if e["type"] == "task-sent"] for batch in tap.messages]
    ours = [batch for batch in sent if any(e["uuid"] in call_ids for e in batch)]
    assert {e["uuid"] for batch in ours for e in batch} >= set(call_ids)
    assert len(ours) < len(call_ids)  # batched: fewer messages than calls
    assert all(e["queue"] == "exai.tools" and e["name"] == "exai.tool.chat" for batch in ours for e in batch)
