"""Durable history in Supabase (optional): conversations, messages and one record per tool call.

Active when SUPABASE_URL and SUPABASE_KEY are set. Writes never happen inside a tool call: each is a
task on the dedicated ``exai.supabase`` queue holding ordered upserts (conversation before its
messages), retried with backoff up to EXAI_SUPABASE_MAX_RETRIES times. Upserts keyed by stable ids
make a redelivered or retried write harmless, so an outage only delays the rows. A thread that
expired from Redis is read back from Supabase when a call names it.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from celery import Celery, Task
from celery.signals import celeryd_after_setup

from contracts.job import Job, Outcome
from contracts.names import SUPABASE_QUEUE, SUPABASE_TASK
from contracts.settings import Settings
from workers import conversation
from workers.backoff import compute_backoff
from workers.threads import Thread, Turn

log = logging.getLogger(__name__)

CONVERSATIONS = "conversations"
MESSAGES = "messages"
TOOL_CALLS = "tool_calls"
Write = tuple[str, list[dict[str, Any]], str]  # table, rows, conflict column


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


def _epoch(value: Any) -> float:
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return time.time()


def conversation_writes(thread: Thread, turns: list[Turn]) -> list[Write]:
    first_index = len(thread.turns) - len(turns)
    conversation_row = {
        "id": thread.id,
        "owner": thread.owner,
        "tool": thread.tool,
        "state": thread.state,
        "created_at": _iso(thread.created_at),
        "updated_at": _iso(time.time()),
    }
    messages = [
        {
            "id": f"{thread.id}:{first_index + i}",
            "conversation_id": thread.id,
            "idx": first_index + i,
            "role": turn.role,
            "content": turn.content,
            "tool": turn.tool,
            "files": turn.files,
            "provider": turn.provider,
            "model": turn.model,
            "created_at": _iso(turn.timestamp),
        }
        for i, turn in enumerate(turns)
    ]
    return [(CONVERSATIONS, [conversation_row], "id"), (MESSAGES, messages, "id")]


def tool_call_write(job: Job, outcome: Outcome) -> list[Write]:
    metadata = (outcome.structured or {}).get("metadata") or {}
    usage = metadata.get("usage") or {}
    duration = outcome.meta.get("duration_s")
    row = {
        "call_id": job.call_id,
        "tool": job.tool,
        "client": job.client,
        "status": "error" if outcome.is_error else "success",
        "error_code": outcome.error_code,
        "provider": metadata.get("provider"),
        "model": metadata.get("model"),
        "tokens_in": usage.get("prompt_tokens"),
        "tokens_out": usage.get("completion_tokens"),
        "latency_ms": round(duration * 1000) if isinstance(duration, int | float) else None,
        "retries": max(int(outcome.meta.get("attempts", 1)) - 1, 0),
        "correlation_id": job.correlation_id,
        "created_at": _iso(job.created_at),
        "finished_at": _iso(time.time()),
    }
    return [(TOOL_CALLS, [row], "call_id")]


class SupabaseSync:
    """The worker's link to Supabase: sends writes to the queue, runs them, restores threads."""

    def __init__(self, app: Celery, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self._client: Any = None
        self._lock = threading.Lock()

    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                # Imported here: the package is an optional extra, needed only when Supabase is on.
                from supabase import create_client
                from supabase.lib.client_options import SyncClientOptions

                assert self.settings.supabase_url and self.settings.supabase_key
                self._client = create_client(
                    self.settings.supabase_url,
                    self.settings.supabase_key.get_secret_value(),
                    # The timeout goes on the HTTP client: the older timeout option is deprecated.
                    options=SyncClientOptions(
                        httpx_client=httpx.Client(timeout=self.settings.exai_supabase_timeout_s)
                    ),
                )
            return self._client

    def send(self, writes: list[Write]) -> None:
        payload = [{"table": t, "rows": rows, "on_conflict": key} for t, rows, key in writes]
        self.app.send_task(SUPABASE_TASK, args=(payload,), queue=SUPABASE_QUEUE)

    def write(self, task: Task, payload: list[dict[str, Any]]) -> str:
        """Run the upserts in order; on any failure retry the whole batch later (upserts repeat safely)."""
        try:
            for item in payload:
                self.client().table(item["table"]).upsert(
                    item["rows"], on_conflict=item["on_conflict"]
                ).execute()
        except Exception as exc:
            attempt = task.request.retries or 0
            delay = compute_backoff(
                attempt,
                base=self.settings.exai_retry_backoff_base_s,
                maximum=self.settings.exai_retry_backoff_max_s,
            )
            log.warning(
                "Supabase write failed (%s); retry %d in %.1f s", type(exc).__name__, attempt + 1, delay
            )
            raise task.retry(
                countdown=delay, max_retries=self.settings.exai_supabase_max_retries, exc=exc
            ) from None
        return "written"

    def restore(self, thread_id: str) -> Thread | None:
        """The thread as Supabase has it, or None (also when Supabase cannot be reached)."""
        try:
            found = self.client().table(CONVERSATIONS).select("*").eq("id", thread_id).limit(1).execute().data
            if not found:
                return None
            row = found[0]
            messages = (
                self.client()
                .table(MESSAGES)
                .select("*")
                .eq("conversation_id", thread_id)
                .order("idx")
                .execute()
                .data
            )
        except Exception as exc:
            log.warning("could not read thread %s from Supabase (%s)", thread_id, type(exc).__name__)
            return None
        turns = [
            Turn(
                role=m["role"],
                content=m["content"],
                tool=m["tool"],
                files=list(m.get("files") or []),
                provider=m.get("provider"),
                model=m.get("model"),
                timestamp=_epoch(m.get("created_at")),
            )
            for m in messages
        ]
        return Thread(
            id=row["id"],
            owner=row["owner"],
            tool=row["tool"],
            created_at=_epoch(row.get("created_at")),
            turns=turns,
            state=row.get("state") or {},
        )


def install(app: Celery, runner: Any, settings: Settings) -> SupabaseSync | None:
    """Register the write task and, when Supabase is configured, hook threads and call records to it."""
    sync = SupabaseSync(app, settings)

    @app.task(name=SUPABASE_TASK, bind=True, queue=SUPABASE_QUEUE)
    def write(self: Task, payload: list[dict[str, Any]]) -> str:
        return sync.write(self, payload)

    if not (settings.supabase_url and settings.supabase_key):
        return None
    conversation.MIRROR = lambda thread, turns: sync.send(conversation_writes(thread, turns))
    conversation.RESTORE = sync.restore
    runner.on_finish = lambda job, outcome: sync.send(tool_call_write(job, outcome))

    @celeryd_after_setup.connect(weak=False)
    def _consume_supabase_queue(sender: Any = None, instance: Any = None, **_: Any) -> None:
        # Every worker takes history writes too, whatever --queues said: no extra process to run.
        instance.app.amqp.queues.select_add(SUPABASE_QUEUE)

    return sync
