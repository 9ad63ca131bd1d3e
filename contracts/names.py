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
# A round that stopped to ask the client (an input_required outcome, JSON), by call and round;
# never under RESULT_KEY, which holds only the call's terminal outcome. Kept result_ttl.
INPUT_KEY = PREFIX + "input:{call_id}:{round}"
# JSON {"call_id", "round"} of every input_required outcome stored, for the task stores of all
# gateways (a 2026 task moves to input_required; its listeners hear of it).
INPUT_CHANNEL = PREFIX + "input-required"
# What changed in the offer: "tools", "prompts" or "resources" (a pack reloaded, a test hook).
LIST_CHANGED_CHANNEL = PREFIX + "list-changed"
LIST_KINDS = ("tools", "prompts", "resources")


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


def input_key(call_id: str, round: int) -> str:
    return INPUT_KEY.format(call_id=call_id, round=round)


# Shared state written by workers and read by the gateway and monitoring.
BREAKER_KEY = PREFIX + "breaker:{provider}"  # hash: state, failures, opened_at, last_error
WORKER_HEARTBEAT_KEY = PREFIX + "worker:{hostname}"  # JSON with a TTL, refreshed by each worker


def breaker_key(provider: str) -> str:
    return BREAKER_KEY.format(provider=provider)


def worker_heartbeat_key(hostname: str) -> str:
    return WORKER_HEARTBEAT_KEY.format(hostname=hostname)


# Monitoring: every process appends metric events to one capped stream that the monitor reads.
EVENTS_STREAM = PREFIX + "events"
GATEWAY_HEARTBEAT_KEY = PREFIX + "gateway:{gateway_id}"  # JSON with a TTL, refreshed by each gateway
# Sorted sets of heartbeat keys scored by expiry, so readers need no SCAN of the whole keyspace.
WORKER_INDEX = PREFIX + "workers"
GATEWAY_INDEX = PREFIX + "gateways"


def gateway_heartbeat_key(gateway_id: str) -> str:
    return GATEWAY_HEARTBEAT_KEY.format(gateway_id=gateway_id)


# Conversation threads (written by workers, read by gateways) and consensus sub-calls (workers only).
THREAD_KEY = PREFIX + "thread:{thread_id}"  # JSON thread, TTL refreshed on every turn
# Sorted set of one identity's thread ids scored by their last turn (Unix s), TTL as the threads':
# gateways list and complete the caller's own threads from it without scanning keys.
THREAD_INDEX_KEY = PREFIX + "threads:{owner}"
# Sorted set of the calls that reserved a thread's next turn pair, scored by their deadline (ms).
THREAD_RESERVATIONS_KEY = PREFIX + "thread-reservations:{thread_id}"
CONSULT_TASK = "exai.consult"  # one model's opinion for a consensus call
CONSULT_RESULT_KEY = PREFIX + "consult:{sub_id}"  # JSON outcome of one consult, kept result_ttl
CONSULT_DONE_KEY = PREFIX + "consult-done:{call_id}"  # set of the call's finished sub ids
CONSULT_WAITING_KEY = PREFIX + "consult-waiting:{call_id}"  # the parent deferred, holding no slot
SUPABASE_QUEUE = "exai.supabase"  # durable-history writes, retried through outages
SUPABASE_TASK = "exai.supabase.write"


def thread_key(thread_id: str) -> str:
    return THREAD_KEY.format(thread_id=thread_id)


def thread_index_key(owner: str) -> str:
    return THREAD_INDEX_KEY.format(owner=owner)


def thread_reservations_key(thread_id: str) -> str:
    return THREAD_RESERVATIONS_KEY.format(thread_id=thread_id)


def consult_result_key(sub_id: str) -> str:
    return CONSULT_RESULT_KEY.format(sub_id=sub_id)


def consult_done_key(call_id: str) -> str:
    return CONSULT_DONE_KEY.format(call_id=call_id)


def consult_waiting_key(call_id: str) -> str:
    return CONSULT_WAITING_KEY.format(call_id=call_id)


# Durable calls (MCP tasks), crash recovery and capacity.
DONE_CHANNEL = PREFIX + "done"  # every finished call id, for gateways waiting on calls they did not send
TASK_KEY = PREFIX + "task:{task_id}"  # JSON task record (owner, tool, created, ttl), kept for its ttl
TASK_INDEX_KEY = PREFIX + "tasks:{owner}"  # sorted set of one client's task ids by creation time
CLAIM_KEY = PREFIX + "claim:{call_id}"  # the worker running a call; lapses when that worker dies
# Hash: the worker that last took the call's claim (runner) and how often the call was taken over
# after its runner's claim lapsed (handovers); dropped with the outcome's storing, else expires
# after the outcome's ttl.
HANDOVER_KEY = PREFIX + "handovers:{call_id}"
# The queue protocol (contracts.transport): each consumer's delivered, unacknowledged messages.
CONSUMERS_KEY = PREFIX + "consumers"  # sorted set: consumer -> when its heartbeat lapses (ms)
GONE_CONSUMERS_KEY = PREFIX + "consumers-gone"  # sorted set: recovered consumer -> when (ms)
CONSUMER_QUEUES_PREFIX = PREFIX + "consumer-queues:"  # + consumer: set of queues it holds messages of
INFLIGHT_PREFIX = PREFIX + "inflight:"  # + consumer + INFLIGHT_SEP + queue: list of its messages
INFLIGHT_SEP = "|"
LEASE_KEY = PREFIX + "lease:{scope}"  # sorted set of in-flight provider calls, scored by expiry


# A task's input round (io.modelcontextprotocol/tasks, or a 2025 task asking on tasks/result):
# the answers given so far (hash: request key -> JSON answer), and the marker of the round that
# the last answer started (SET NX: exactly one gateway sends it). Kept result_ttl.
TASK_ANSWERS_KEY = PREFIX + "task-answers:{task_id}:{round}"
TASK_ROUND_KEY = PREFIX + "task-round:{task_id}:{round}"
# The key sealing requestState when EXAI_REQUEST_STATE_KEYS is unset: the first gateway to start
# sets it (SET NX), the others read it, so a retry can reach any of them.
REQUEST_STATE_KEY = PREFIX + "request-state-key"


def task_key(task_id: str) -> str:
    return TASK_KEY.format(task_id=task_id)


def task_answers_key(task_id: str, round: int) -> str:
    return TASK_ANSWERS_KEY.format(task_id=task_id, round=round)


def task_round_key(task_id: str, round: int) -> str:
    return TASK_ROUND_KEY.format(task_id=task_id, round=round)


def task_index_key(owner: str) -> str:
    return TASK_INDEX_KEY.format(owner=owner)


def claim_key(call_id: str) -> str:
    return CLAIM_KEY.format(call_id=call_id)


def handover_key(call_id: str) -> str:
    return HANDOVER_KEY.format(call_id=call_id)


def inflight_key(consumer: str, queue: str) -> str:
    return f"{INFLIGHT_PREFIX}{consumer}{INFLIGHT_SEP}{queue}"


def lease_key(scope: str) -> str:
    return LEASE_KEY.format(scope=scope)
