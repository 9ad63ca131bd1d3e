"""Lua scripts queued on a pipeline without redis-py's extra round trip.

redis-py runs ``SCRIPT EXISTS`` (and ``SCRIPT LOAD``) before a pipeline holding a registered script,
which costs the round trip the pipeline was meant to save. ``EVAL`` with the script's text needs
neither: Redis caches the compiled script by its hash, and the text is a few hundred bytes.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis
from redis.commands.core import Script


def queue_script(
    pipe: redis.client.Pipeline | redis.Redis, script: Script, keys: Sequence[str], args: Sequence[object]
) -> None:
    """Queue ``script`` on ``pipe`` (or, given a client, run it at once)."""
    if isinstance(pipe, redis.client.Pipeline):
        pipe.eval(script.script, len(keys), *keys, *args)  # type: ignore[arg-type]
    else:
        script(keys=list(keys), args=list(args), client=pipe)  # type: ignore[arg-type]
