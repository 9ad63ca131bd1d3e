"""Storing a call's outcome once and telling the waiting gateway about it."""

from __future__ import annotations

import redis
from redis.commands.core import Script

from contracts.job import Outcome, ProgressEvent
from contracts.names import DONE_CHANNEL, claim_key, handover_key, result_key
from workers.pipelined_scripts import queue_script
from workers.write_behind import WriteBehind

# Keep the first outcome (SET NX), then publish whichever outcome is stored, to the caller's
# reply channel as a ResultEvent and to the done channel, give up the worker's claim on the
# call (KEYS[2], when ARGV[6] names its owner) and drop its handover count (KEYS[3], needed only
# until it has an outcome): one round trip per finished call.
_STORE_AND_PUBLISH = """
local stored = ARGV[1]
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
  stored = redis.call('GET', KEYS[1]) or ARGV[1]
end
if ARGV[4] ~= '' then
  local event = '{"type":"result","call_id":' .. cjson.encode(ARGV[3]) .. ',"outcome":' .. stored .. '}'
  redis.call('PUBLISH', ARGV[4], event)
end
redis.call('PUBLISH', ARGV[5], ARGV[3])
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
    payload = outcome.model_dump_json()
    keys = [result_key(outcome.call_id), claim_key(outcome.call_id), handover_key(outcome.call_id)]
    args: list[str | int] = [payload, ttl, outcome.call_id, reply_to or "", DONE_CHANNEL, claim_owner]
    with client.pipeline(transaction=False) as pipe:
        earlier = before.queue_on(pipe) if before is not None else 0
        queue_script(pipe, _store_script(client), keys, args)
        stored = pipe.execute()[-1]
    if before is not None:
        before.sent(earlier)
    if stored == payload.encode():
        return outcome  # ours was kept: no need to parse it back
    return Outcome.model_validate_json(stored)


def publish_progress(client: redis.Redis, reply_to: str | None, event: ProgressEvent) -> None:
    if reply_to:
        client.publish(reply_to, event.model_dump_json())
