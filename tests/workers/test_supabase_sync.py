"""The rows written to Supabase, and the migration that creates their tables."""

from __future__ import annotations

import re
from pathlib import Path

from contracts.job import Job, Outcome
from workers.supabase_sync import CONVERSATIONS, MESSAGES, TOOL_CALLS, conversation_writes, tool_call_write
from workers.threads import Thread, Turn

MIGRATIONS = Path(__file__).resolve().parents[2] / "deploy" / "supabase" / "migrations"


def test_conversation_rows_come_before_their_messages_with_stable_ids() -> None:
    """The conversation is upserted first; message ids are thread:index so retries overwrite."""
    thread = Thread(
        id="t-1",
        owner="alice",
        tool="chat",
        turns=[Turn("user", "a", "chat"), Turn("assistant", "b", "chat")],
    )
    writes = conversation_writes(thread, thread.turns[1:])
    assert [w[0] for w in writes] == [CONVERSATIONS, MESSAGES]
    assert writes[1][1][0]["id"] == "t-1:1" and writes[1][1][0]["idx"] == 1


def test_a_tool_call_record_carries_usage_latency_and_retries() -> None:
    """Tokens in/out, latency in ms and retries come from the outcome."""
    job = Job(call_id="c-1", tool="chat", deadline=0, correlation_id="c-1", client="alice")
    outcome = Outcome(
        call_id="c-1",
        text="{}",
        structured={
            "metadata": {
                "provider": "kimi",
                "model": "kimi-k2.6",
                "usage": {"prompt_tokens": 3, "completion_tokens": 5},
            }
        },
        meta={"duration_s": 1.5, "attempts": 3},
    )
    [(table, [row], key)] = tool_call_write(job, outcome)
    assert (table, key) == (TOOL_CALLS, "call_id")
    assert (row["tokens_in"], row["tokens_out"], row["latency_ms"], row["retries"]) == (3, 5, 1500, 2)


def test_the_migration_creates_every_table_with_every_column_written() -> None:
    """Each column the worker writes exists in the shipped SQL."""
    sql = "\n".join(p.read_text() for p in sorted(MIGRATIONS.glob("*.sql")))
    thread = Thread(id="t", owner="o", tool="chat", turns=[Turn("user", "a", "chat")])
    job = Job(call_id="c", tool="chat", deadline=0, correlation_id="c")
    writes = conversation_writes(thread, thread.turns) + tool_call_write(job, Outcome(call_id="c", text=""))
    for table, rows, _ in writes:
        block = re.search(rf"create table if not exists public\.{table} \((.*?)\n\);", sql, re.DOTALL)
        assert block is not None, table
        for column in rows[0]:
            assert re.search(rf"^\s+{column}\s", block.group(1), re.MULTILINE), (table, column)
