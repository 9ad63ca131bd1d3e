"""Consensus sub-calls: each model consulted as its own Celery task, retried on its own.

The parent call (the ``consensus`` tool) sends one ``exai.consult`` task per model whose answer is
not stored yet, then defers (``workers.deferral``): it holds no worker slot while the models
answer, so any mix of consensus and other calls completes at any concurrency. The sub-task that
completes the set sends the parent again, which now finds every answer stored and composes its
result. Each sub-call claims its sub id while it runs (``workers.claims``) and stores its outcome
once under ``exai:consult:<sub id>``: a redelivered sub-task, a duplicate sent by a redelivered
parent, or a parent run again after a worker was lost finds the claim or the stored outcome and
calls no provider a second time. A model that fails (after its own retries) comes back as an
error entry; the parent reports it and carries on.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import redis
from celery import Celery, Task, group

from contracts.errors import ExaiError, ProviderError
from contracts.job import Job, ProgressEvent
from contracts.logs import correlated
from contracts.names import CONSULT_TASK, TOOL_QUEUE, cancel_key, consult_result_key
from workers import outcomes
from workers.backoff import compute_backoff
from workers.cancellation import CancelToken
from workers.context import ToolContext
from workers.deferral import Deferred, continue_call, sub_task_finished
from workers.model_call import Ask, ask

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Consult:
    sub_id: str
    model: str
    stance: str
    messages: list[dict[str, Any]]


def run_consult(task: Task, payload: dict[str, Any], deps: Any) -> str:
    """The body of one ``exai.consult`` task; ``deps`` is the worker's Runner."""
    job = Job.model_validate(payload["job"])
    sub_id = job.call_id
    parent = Job.model_validate(payload["parent_job"])
    with correlated(job.correlation_id):
        if deps.redis.exists(consult_result_key(sub_id)):
            _finished(deps, parent, sub_id, payload["total"])  # its first run may have died before this
            return "duplicate"
        if not deps.claims.begin(sub_id, deps.settings.exai_result_ttl_s).claimed:
            log.info("consult %s is running on another worker; leaving it there", sub_id)
            return "duplicate"
        try:
            status = _consult(task, payload, job, parent, deps)
        finally:
            deps.claims.release(sub_id)
        if status != "retry":
            _finished(deps, parent, sub_id, payload["total"])
        return status


def _consult(task: Task, payload: dict[str, Any], job: Job, parent: Job, deps: Any) -> str:
    client: redis.Redis = deps.redis
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
        if client.exists(cancel_key(parent.call_id)):
            raise ExaiError("the consensus call was cancelled")
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
            log.warning("consult %s: %s; retrying in %.2f s", job.call_id, exc.message, delay)
            deps.claims.park_for_retry(job.call_id, delay)
            raise task.retry(countdown=delay, max_retries=deps.settings.exai_max_retries, exc=exc) from None
        outcome = _failure(payload, exc, attempt + 1)
    except ExaiError as exc:
        outcome = _failure(payload, exc, attempt + 1)
    except Exception as exc:
        log.exception("consult %s failed unexpectedly", job.call_id)
        outcome = _failure(payload, ExaiError(f"internal error: {type(exc).__name__}"), attempt + 1)
    ttl = deps.settings.exai_result_ttl_s
    client.set(consult_result_key(job.call_id), json.dumps(outcome), nx=True, ex=ttl)
    return str(outcome["status"])


def _finished(deps: Any, parent: Job, sub_id: str, total: int) -> None:
    """Count this sub-call done; progress to the caller; continue the parent if it was the last."""
    ttl = deps.settings.exai_result_ttl_s
    count, resume = sub_task_finished(deps.redis, parent.call_id, sub_id, total, ttl)
    if parent.progress:
        message = f"{count} of {total} models answered"
        event = ProgressEvent(call_id=parent.call_id, progress=count, total=total, message=message)
        outcomes.publish_progress(deps.redis, parent.reply_to, event)
    if resume and deps.celery is not None:
        log.info("every model of consensus call %s answered; composing its result", parent.call_id)
        continue_call(deps.celery, parent)


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
    """Every model's outcome in the order given, failures included, once all are stored; until
    then, send the sub-tasks still missing and defer the call (raises :class:`Deferred`)."""
    if ctx.redis is None or ctx.celery is None:
        raise ExaiError("consensus needs the worker's Redis and Celery app")
    client = ctx.redis
    with client.pipeline(transaction=False) as pipe:
        for c in consults:
            pipe.get(consult_result_key(c.sub_id))
        stored: list[bytes | None] = pipe.execute()
    missing = [c for c, raw in zip(consults, stored, strict=True) if raw is None]
    if missing:
        total = len(consults)
        parent_job = ctx.job.model_dump(mode="json")
        signatures = [
            ctx.celery.signature(
                CONSULT_TASK,
                args=(
                    {
                        "parent": ctx.call_id,
                        "parent_job": parent_job,
                        "total": total,
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
        group(signatures).apply_async()
        ctx.progress(float(total - len(missing)), float(total), f"asking {len(missing)} of {total} models")
        raise Deferred(total=total)
    return [
        {"model": c.model, "stance": c.stance, **json.loads(raw)}
        for c, raw in zip(consults, stored, strict=True)
        if raw is not None
    ]
