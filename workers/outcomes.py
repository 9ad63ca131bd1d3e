"""Storing a call's outcome once and telling the waiting gateway about it.

A call's **terminal** outcome (``kind`` complete or protocol_error) goes under ``result_key``, first
one wins. A round that stopped to ask the client (``kind="input_required"``, from a tool's
``NeedInput``) is not an end and never goes there: it is stored under ``input_key(call_id, round)``
(first one of that round wins, kept result_ttl), published to the caller's reply channel as a
``ResultEvent`` like any outcome, and announced on ``INPUT_CHANNEL`` as ``{"call_id", "round"}``.
What happens next is the gateway's (docs/architecture.md §6.9, §6.10): a modern plain call answers
``input_required`` and seals the continuation into ``requestState`` (the retry is a new call); a
task reads the interim outcome from its key (its status becomes ``input_required``), collects the
answers and enqueues a continuation job with ``round`` + 1 and the same call id; a legacy session
asks the client with server→client requests and enqueues that continuation job itself.
"""

from __future__ import annotations

import json

import redis
from redis.commands.core import Script

from contracts.job import Outcome, ProgressEvent
from contracts.names import DONE_CHANNEL, INPUT_CHANNEL, claim_key, handover_key, input_key, result_key
from workers.pipelined_scripts import queue_script
from workers.write_behind import WriteBehind

# Keep the first outcome under KEYS[1] (SET NX), then publish whichever outcome is stored, to the
# caller's reply channel as a ResultEvent, give up the worker's claim on the call (KEYS[2], when
# ARGV[6] names its owner) and drop its handover count (KEYS[3], needed only until it has an
# outcome): one round trip per finished call or round. KEYS[4] is the call's result key: the same
# as KEYS[1] for a terminal outcome, announced on the done channel (ARGV[5]). An interim outcome
# (KEYS[1] its round's key) is announced on ARGV[7] with ARGV[8] instead, unless the call already
# has its terminal outcome (it was cancelled while the round ran): that one is published then.
_STORE_AND_PUBLISH = """
local terminal = KEYS[1] ~= KEYS[4] and redis.call('GET', KEYS[4])
local stored = ARGV[1]
if terminal then
  stored = terminal
elseif not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
  stored = redis.call('GET', KEYS[1]) or ARGV[1]
end
if ARGV[4] ~= '' then
  local event = '{"type":"result","call_id":' .. cjson.encode(ARGV[3]) .. ',"outcome":' .. stored .. '}'
  redis.call('PUBLISH', ARGV[4], event)
end
if terminal or KEYS[1] == KEYS[4] then
  redis.call('PUBLISH', ARGV[5], ARGV[3])
else
  redis.call('PUBLISH', ARGV[7], ARGV[8])
end
if ARGV[6] ~= '' and redis.call('GET', KEYS[2]) == ARGV[6] then redis.call('DEL', KEYS[2]) end
redis.call('DEL', KEYS[3])
return stored
"""


_scripts: dict[int, Script] = {}


def _store_script(client: redis.Redis) -> Script:
    script = _scripts.get(id(client))
    if script is None:
        script = _scripts[id(client)] = client.register_script(_STORE_AND_PUBLISH)
    return script


def load(client: redis.Redis, call_id: str) -> Outcome | None:
    raw = client.get(result_key(call_id))
    return None if raw is None else Outcome.model_validate_json(raw)


def store_and_publish(
    client: redis.Redis,
    outcome: Outcome,
    reply_to: str | None,
    ttl: int,
    *,
    claim_owner: str = "",
    before: WriteBehind | None = None,
) -> Outcome:
    """Keep the first outcome stored for a call (a redelivered run never replaces it) and publish it.

    Returns the outcome that is now authoritative, which is the earlier one if another run of the
    same call finished first. Gateways waiting on a call they did not send (tasks/result after a
    reconnect or a gateway restart) hear of it on the done channel, which each gateway watches once.
    ``claim_owner``: release that worker's claim on the call in the same round trip; ``before``:
    the call's waiting writes, applied first in the same round trip.
    """
    key = result_key(outcome.call_id)
    return _store(client, outcome, key, reply_to, ttl, claim_owner, before, ("", ""))


def store_interim(
    client: redis.Redis,
    outcome: Outcome,
    round: int,
    reply_to: str | None,
    ttl: int,
    *,
    claim_owner: str = "",
    before: WriteBehind | None = None,
) -> Outcome:
    """Keep the first ``input_required`` outcome of ``round`` and publish it (see the module doc).

    Returns what was published: this outcome, the round's earlier one (a redelivered round), or
    the call's terminal outcome if the call ended meanwhile (then nothing is asked)."""
    if outcome.kind != "input_required":
        raise ValueError(f"store_interim takes input_required outcomes, not {outcome.kind}")
    announcement = json.dumps({"call_id": outcome.call_id, "round": round}, separators=(",", ":"))
    key = input_key(outcome.call_id, round)
    return _store(client, outcome, key, reply_to, ttl, claim_owner, before, (INPUT_CHANNEL, announcement))


def _store(
    client: redis.Redis,
    outcome: Outcome,
    key: str,
    reply_to: str | None,
    ttl: int,
    claim_owner: str,
    before: WriteBehind | None,
    announce: tuple[str, str],
) -> Outcome:
    payload = outcome.model_dump_json()
    call = outcome.call_id
    keys = [key, claim_key(call), handover_key(call), result_key(call)]
    args: list[str | int] = [payload, ttl, call, reply_to or "", DONE_CHANNEL, claim_owner, *announce]
    with client.pipeline(transaction=False) as pipe:
        earlier = before.queue_on(pipe) if before is not None else 0
        queue_script(pipe, _store_script(client), keys, args)
        stored = pipe.execute()[-1]
    if before is not None:
        before.sent(earlier)
    if stored == payload.encode():
        return outcome  # ours was kept: no need to parse it back
    return Outcome.model_validate_json(stored)


def load_interim(client: redis.Redis, call_id: str, round: int) -> Outcome | None:
    """The ``input_required`` outcome round ``round`` of the call stored, if any."""
    raw = client.get(input_key(call_id, round))
    return None if raw is None else Outcome.model_validate_json(raw)


def publish_progress(client: redis.Redis, reply_to: str | None, event: ProgressEvent) -> None:
    if reply_to:
        client.publish(reply_to, event.model_dump_json())
