"""The gateway's task-sent events reach Celery's event stream, several to a message."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.clients import raw_client
from tests.support.events import EventTap
from tests.support.stack import running_stack

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


async def test_calls_sent_together_share_their_task_sent_message(tmp_path: Path) -> None:
    with running_stack(tmp_path, EXAI_TASK_EVENT_BATCH_S="0.3") as stack:
        tap = EventTap(stack.env["REDIS_URL"])
        try:
            call_ids: list[str] = []
            async with raw_client(stack.authed_url) as client:
                await client.initialize()
                for n in range(10):
                    params = {"name": "chat", "arguments": {"prompt": f"sent {n}"}}
                    await client.send({"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": params})
                for n in range(10):
                    call_ids.append((await client.response(n))["result"]["_meta"]["io.exai/call_id"])
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if all("task-sent" in tap.types_by_task().get(c, set()) for c in call_ids):
                    break
                time.sleep(0.1)
        finally:
            tap.close()
    sent = [[e for e in batch if e["type"] == "task-sent"] for batch in tap.messages]
    ours = [batch for batch in sent if any(e["uuid"] in call_ids for e in batch)]
    assert {e["uuid"] for batch in ours for e in batch} >= set(call_ids)
    assert len(ours) < len(call_ids)  # batched: fewer messages than calls
    assert all(e["queue"] == "exai.tools" and e["name"] == "exai.tool.chat" for batch in ours for e in batch)
