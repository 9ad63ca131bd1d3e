"""A script queued on a pipeline costs no extra round trip and survives an emptied script cache."""

from __future__ import annotations

import redis

from tests.workers.redis_fixture import redis_client
from workers.pipelined_scripts import queue_script

__all__ = ["redis_client"]

INCR_BY = "return redis.call('INCRBY', KEYS[1], ARGV[1])"


def _calls(client: redis.Redis, command: str) -> int:
    stats: dict[str, dict[str, int]] = client.info("commandstats")  # type: ignore[assignment]
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


def test_a_queued_script_runs_in_the_pipelines_own_round_trip(redis_client: redis.Redis) -> None:
    redis_client.delete("ps:n")
    script = redis_client.register_script(INCR_BY)
    redis_client.script_flush()  # what a restarted Redis looks like
    before = _calls(redis_client, "script|exists") + _calls(redis_client, "script|load")
    with redis_client.pipeline(transaction=False) as pipe:
        pipe.set("ps:n", 1)
        queue_script(pipe, script, ["ps:n"], [41])
        assert pipe.execute() == [True, 42]
    assert _calls(redis_client, "script|exists") + _calls(redis_client, "script|load") == before
    queue_script(redis_client, script, ["ps:n"], [1])  # on a client: runs at once
    assert redis_client.get("ps:n") == b"43"
