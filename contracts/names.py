"""Every name two processes must agree on: queues, task names, Redis keys and channels."""

from __future__ import annotations

# Celery
TOOL_QUEUE = "exai.tools"
TASK_PREFIX = "exai.tool."
NOOP_TASK = "exai.noop"  # used by the benchmark as the raw Celery baseline

# Redis keys and channels. Every key the service writes starts with this prefix.
PREFIX = "exai:"
RESULT_KEY = PREFIX + "result:{call_id}"  # the finished call's outcome (JSON), kept result_ttl
CANCEL_KEY = PREFIX + "cancel:{call_id}"  # present when the caller cancelled the call
CANCEL_CHANNEL = PREFIX + "cancel"  # call ids published here reach every worker at once
REPLY_CHANNEL = PREFIX + "reply:{gateway_id}"  # progress and results for one gateway process


def task_name(tool: str) -> str:
    """The Celery task that runs ``tool``."""
    return TASK_PREFIX + tool


def tool_of_task(name: str) -> str | None:
    """The tool a Celery task name runs, or ``None`` if it is not a tool task."""
    return name[len(TASK_PREFIX) :] if name.startswith(TASK_PREFIX) else None


def result_key(call_id: str) -> str:
    return RESULT_KEY.format(call_id=call_id)


def cancel_key(call_id: str) -> str:
    return CANCEL_KEY.format(call_id=call_id)


def reply_channel(gateway_id: str) -> str:
    return REPLY_CHANNEL.format(gateway_id=gateway_id)


# Shared state written by workers and read by the gateway and monitoring.
BREAKER_KEY = PREFIX + "breaker:{provider}"  # hash: state, failures, opened_at, last_error
WORKER_HEARTBEAT_KEY = PREFIX + "worker:{hostname}"  # JSON with a TTL, refreshed by each worker


def breaker_key(provider: str) -> str:
    return BREAKER_KEY.format(provider=provider)


def worker_heartbeat_key(hostname: str) -> str:
    return WORKER_HEARTBEAT_KEY.format(hostname=hostname)
