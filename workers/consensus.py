"""Consensus sub-calls: each model consulted as its own Celery task, retried on its own.

The parent call (the ``consensus`` tool) sends one ``exai.consult`` task per model as a group and
waits for them on Redis (BLPOP on a per-call list, bounded by the call's deadline) instead of
blocking on Celery results, which Celery forbids inside a task. Each sub-call stores its outcome
once under ``exai:consult:<sub id>``: a redelivered sub-task, or a parent run again after a worker
was lost, finds the stored outcome and calls no provider a second time. A model that fails (after
its own retries) comes back as an error entry; the parent reports it and carries on.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import redis
from celery import Celery, Task, group

from contracts.errors import ExaiError, ProviderError
from contracts.job import Job
from contracts.logs import correlated
from contracts.names import CONSULT_TASK, TOOL_QUEUE, consult_done_key, consult_result_key
from workers.backoff import compute_backoff
from workers.cancellation import CancelToken
from workers.context import ToolContext
from workers.model_call import Ask, ask

log = logging.getLogger(__name__)

WAIT_SLICE_S = 1.0  # longest single BLPOP, so cancellation and the deadline are noticed quickly


@dataclass(frozen=True)
class Consult:
    sub_id: str
    model: str
    stance: str
    messages: list[dict[str, Any]]


def _store(client: redis.Redis, parent: str, sub_id: str, outcome: dict[str, Any], ttl: int) -> None:
    client.set(consult_result_key(sub_id), json.dumps(outcome), nx=True, ex=ttl)
    done = consult_done_key(parent)
    client.rpush(done, sub_id)
    client.expire(done, ttl)


def run_consult(task: Task, payload: dict[str, Any], deps: Any) -> str:
    """The body of one ``exai.consult`` task; ``deps`` is the worker's Runner."""
    job = Job.model_validate(payload["job"])
    sub_id = job.call_id
    parent = payload["parent"]
    client: redis.Redis = deps.redis
    ttl = deps.settings.exai_result_ttl_s
    with correlated(job.correlation_id):
        if client.exists(consult_result_key(sub_id)):
            client.rpush(consult_done_key(parent), sub_id)  # wake a parent that may have missed it
            return "duplicate"
        ctx = ToolContext(
            job=job,
            settings=deps.settings,
            cancel=CancelToken(),
            provider=deps.providers,
            report=lambda *_: None,
            redis=client,
        )
        attempt = task.request.retries or 0
        try:
            if job.remaining() <= 0:
                raise ExaiError("no time left before the consensus call's deadline")
            answer = ask(
                ctx,
                Ask(
                    build=lambda _model: payload["messages"],
                    model=payload["model"],
                    temperature=payload.get("temperature"),
                    thinking_mode=payload.get("thinking_mode"),
                    stream=False,
                ),
            )
            outcome: dict[str, Any] = {
                "status": "success",
                "content": answer.reply.text,
                "provider": answer.model.provider,
                "model": answer.reply.model,
                "usage": answer.usage(),
                "attempts": attempt + 1,
            }
        except ProviderError as exc:
            delay = compute_backoff(
                attempt,
                base=deps.settings.exai_retry_backoff_base_s,
                maximum=deps.settings.exai_retry_backoff_max_s,
                retry_after=exc.retry_after,
            )
            if exc.retryable and attempt < deps.settings.exai_max_retries and delay < job.remaining():
                log.warning("consult %s: %s; retrying in %.2f s", sub_id, exc.message, delay)
                raise task.retry(
                    countdown=delay, max_retries=deps.settings.exai_max_retries, exc=exc
                ) from None
            outcome = _failure(payload, exc, attempt + 1)
        except ExaiError as exc:
            outcome = _failure(payload, exc, attempt + 1)
        except Exception as exc:
            log.exception("consult %s failed unexpectedly", sub_id)
            outcome = _failure(payload, ExaiError(f"internal error: {type(exc).__name__}"), attempt + 1)
        _store(client, parent, sub_id, outcome, ttl)
        return str(outcome["status"])


def _failure(payload: dict[str, Any], exc: ExaiError, attempts: int) -> dict[str, Any]:
    return {
        "status": "error",
        "content": "",
        "error": exc.message,
        "provider": exc.data.get("provider"),
        "model": payload["model"],
        "attempts": attempts,
    }


def register_consult(app: Celery, deps: Any) -> None:
    @app.task(name=CONSULT_TASK, bind=True)
    def consult(self: Task, payload: dict[str, Any]) -> str:
        return run_consult(self, payload, deps)


def consult_all(ctx: ToolContext, consults: list[Consult], options: dict[str, Any]) -> list[dict[str, Any]]:
    """Ask every model at once; their outcomes in the order given, failures included."""
    if ctx.redis is None or ctx.celery is None:
        raise ExaiError("consensus needs the worker's Redis and Celery app")
    client = ctx.redis
    parent = ctx.call_id
    missing = [c for c in consults if not client.exists(consult_result_key(c.sub_id))]
    signatures = [
        ctx.celery.signature(
            CONSULT_TASK,
            args=(
                {
                    "parent": parent,
                    "job": Job(
                        call_id=c.sub_id,
                        tool="consensus",
                        deadline=ctx.job.deadline,
                        client=ctx.job.client,
                        correlation_id=ctx.job.correlation_id,
                    ).model_dump(),
                    "model": c.model,
                    "messages": c.messages,
                    **options,
                },
            ),
            queue=TOOL_QUEUE,
        )
        for c in missing
    ]
    if signatures:
        group(signatures).apply_async()
    pending = {c.sub_id for c in consults}
    total = len(consults)
    while True:
        pending = {s for s in pending if not client.exists(consult_result_key(s))}
        ctx.progress(
            float(total - len(pending)), float(total), f"{total - len(pending)} of {total} models answered"
        )
        if not pending:
            break
        ctx.check()
        wait = min(WAIT_SLICE_S, max(ctx.job.remaining(), 0.01))
        client.blpop([consult_done_key(parent)], timeout=wait)
    results = []
    for c in consults:
        raw = client.get(consult_result_key(c.sub_id))
        outcome = json.loads(raw) if raw is not None else {"status": "error", "error": "no answer"}
        results.append({"model": c.model, "stance": c.stance, **outcome})
    return results
