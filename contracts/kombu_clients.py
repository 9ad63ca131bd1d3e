"""One redis-py client per kombu Redis channel, instead of a new one for every command.

kombu's Redis channel builds a ``redis.Redis`` object around its connection pool for each
publish, acknowledgement and unacknowledged-message record; building one copies redis-py's
response-callback table, which cost a worker holding 1,000 calls ~5 % of its CPU (and the gateway
a share of each enqueue). A client over a pool is safe to share between threads and greenlets;
it is rebuilt whenever the channel replaces its pool (after a reconnect).
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis

_ORIGINAL: Any = kombu_redis.Channel._create_client
_CACHE = "_exai_client"


def _create_client(self: Any, asynchronous: bool = False) -> Any:
    if asynchronous:
        return _ORIGINAL(self, asynchronous=True)  # the BRPOP/pub-sub connection stays per use
    client = self.__dict__.get(_CACHE)
    if client is None or client.connection_pool is not self.pool:
        client = _ORIGINAL(self, asynchronous=False)
        self.__dict__[_CACHE] = client
    return client


def install() -> None:
    """Patch kombu's Redis channel (idempotent): done by ``make_celery`` for every process."""
    kombu_redis.Channel._create_client = _create_client  # type: ignore[method-assign]
