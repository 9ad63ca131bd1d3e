"""The project's Redis queue protocol: a kombu transport that takes a message and records it at once.

kombu's Redis transport takes a message with ``BRPOP`` and only then records it, in a hash shared by
every consumer, as delivered; a Redis stop between the two loses the message, and a consumer that
dies leaves its messages there until the visibility timeout (which must outlast the longest call).
This transport keeps kombu's layout where other tools look at it — each queue is a Redis **list**
under its own name, so Flower, celery-exporter's ``LLEN`` and a KEDA list-length trigger see it,
and fanout (pidbox, events) stays pub/sub — and owns what happens to a message once taken:

* **Delivery** is ``BLMOVE queue <in-flight list> RIGHT LEFT``: one atomic command takes the
  message and records it in this consumer's in-flight list for that queue
  (``exai:inflight:<consumer>|<queue>``). A consumer of several queues first runs one non-blocking
  script that moves a message from the first non-empty queue (round robin), and blocks on its first
  queue only when all are empty. Queues consumed without acknowledgements (``celery inspect``
  replies) are popped as kombu does.
* **Acknowledgement** removes the message from the in-flight list (``LREM``). A rejection with
  requeue, and a warm shutdown, move it back to its queue in one script, so it is always in exactly
  one of the two lists; with ``appendfsync always`` a Redis restart keeps that true.
* **Heartbeat and recovery**: every consumer has a score in ``exai:consumers`` (when its heartbeat
  lapses). A worker beats every third of ``EXAI_CONSUMER_HEARTBEAT_S`` and, in the same script,
  moves the in-flight messages of consumers whose heartbeat lapsed back to the head of their queues
  (:class:`Consumers`). A killed worker's calls run again within seconds, not at the visibility
  timeout. Its claims (``workers.claims``) agree with this heartbeat: a claim held by a consumer
  whose heartbeat lapsed is taken over, a claim of a live one makes a redelivered copy step aside.
* **A new channel** of the same consumer (after a reconnect) puts back what its predecessor held
  and nobody runs any more: Celery drops its reserved and scheduled (ETA) messages on a connection
  loss and expects the broker to deliver them again; messages still running (``is_running``) stay.
* **Client reuse**: one redis-py client per channel and pool instead of one per command.
* **Wake-up**: a worker whose slots are all busy stops polling its queue; an acknowledgement writes
  to a pipe the poller watches, so the freed slot takes the next message at once, not at the
  next poll (up to 2 s under gevent).

Selected through Celery's ``broker_transport`` (``contracts.queue.make_celery``) for ``redis://``
and ``rediss://`` URLs; Sentinel URLs keep kombu's own transport. kombu's ``global_keyprefix`` is
not supported. The scripts build the in-flight keys of other consumers from their names, so the
broker must be one Redis (not a Redis Cluster), as Celery's Redis broker requires anyway.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import Callable, Iterable
from queue import Empty
from typing import Any
from urllib.parse import quote

import redis
from kombu.transport import redis as kombu_redis
from kombu.transport import virtual
from kombu.utils.url import as_url

from contracts.names import (
    CONSUMER_QUEUES_PREFIX,
    CONSUMERS_KEY,
    GONE_CONSUMERS_KEY,
    INFLIGHT_PREFIX,
    INFLIGHT_SEP,
    inflight_key,
)

log = logging.getLogger(__name__)

# kombu's classes, seen as untyped: this module overrides their methods, it does not type them.
_VirtualQoS: Any = virtual.QoS
_RedisChannel: Any = kombu_redis.Channel
_RedisPoller: Any = kombu_redis.MultiChannelPoller
_RedisTransport: Any = kombu_redis.Transport

# Consumers whose heartbeat lapsed that one recovery round hands back at most (the next round,
# a third of a heartbeat later, takes the rest).
RECOVER_BATCH = 20

# Take a message from the first non-empty queue, recording it in flight when it will be acked.
# ARGV: pairs of (queue, in-flight list or "" for a queue consumed without acknowledgements).
_FETCH = """
for i = 1, #ARGV, 2 do
  local queue, inflight = ARGV[i], ARGV[i + 1]
  local raw
  if inflight == '' then raw = redis.call('RPOP', queue)
  else raw = redis.call('LMOVE', queue, inflight, 'RIGHT', 'LEFT') end
  if raw then return {queue, raw} end
end
return false
"""
# Put one in-flight message back on its queue, unless it was acknowledged meanwhile.
# KEYS: in-flight list, queue. ARGV: the message, "head" (taken next) or "tail".
_RETURN = """
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
if ARGV[2] == 'head' then redis.call('RPUSH', KEYS[2], ARGV[1])
else redis.call('LPUSH', KEYS[2], ARGV[1]) end
return 1
"""
# Beat for ARGV[1] (when given), then hand back the messages of consumers whose heartbeat lapsed:
# newest first onto the head of the queue, so the oldest is taken first again. A recovered
# consumer is remembered as gone for a while, so claims it held are known to be free.
# KEYS: consumers, gone consumers. ARGV: consumer, now (ms), heartbeat (ms), batch, queues-set
# prefix, in-flight prefix, separator, "1" to recover, how long the gone are remembered (ms).
_BEAT_AND_RECOVER = """
local now = tonumber(ARGV[2])
if ARGV[1] ~= '' then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
end
if ARGV[8] == '0' then return {0, 0} end
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[4]))
local moved = 0
for _, consumer in ipairs(dead) do
  local queues_key = ARGV[5] .. consumer
  for _, queue in ipairs(redis.call('SMEMBERS', queues_key)) do
    local inflight = ARGV[6] .. consumer .. ARGV[7] .. queue
    while redis.call('LMOVE', inflight, queue, 'LEFT', 'RIGHT') do moved = moved + 1 end
  end
  redis.call('DEL', queues_key)
  redis.call('ZREM', KEYS[1], consumer)
  redis.call('ZADD', KEYS[2], now, consumer)
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[9]))
return {#dead, moved}
"""
# A new channel of a consumer: register the queue, beat, and put back what nobody runs any more.
# KEYS: consumers, queues set, in-flight list, queue. ARGV: consumer, expiry (ms), messages to keep.
_ADOPT = """
redis.call('SADD', KEYS[2], KEYS[4])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local keep = {}
for i = 3, #ARGV do keep[ARGV[i]] = true end
local moved = 0
for _, raw in ipairs(redis.call('LRANGE', KEYS[3], 0, -1)) do
  if not keep[raw] then
    redis.call('LREM', KEYS[3], 1, raw)
    redis.call('RPUSH', KEYS[4], raw)
    moved = moved + 1
  end
end
return moved
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _decode(raw: bytes | str) -> Any:
    return json.loads(raw)


def default_consumer_id() -> str:
    """This process as a queue consumer: stable across reconnects, unique per live process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def message_task_id(payload: object) -> str | None:
    """The task id (our call id) in a kombu message payload, or ``None`` when it has none."""
    headers = payload.get("headers") if isinstance(payload, dict) else None
    task_id = headers.get("id") if isinstance(headers, dict) else None
    return task_id if isinstance(task_id, str) and task_id else None


class Consumers:
    """Heartbeats of queue consumers and recovery of the messages of dead ones (any process)."""

    def __init__(
        self,
        client: redis.Redis,
        heartbeat_s: float,
        *,
        remember_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``remember_s``: how long a recovered consumer is known as gone (at least as long as
        its claims could live: ``EXAI_CLAIM_TTL_S``)."""
        self._client = client
        self._heartbeat_ms = int(heartbeat_s * 1000)
        self._remember_ms = int(remember_s * 1000)
        self._clock = clock
        self._script = client.register_script(_BEAT_AND_RECOVER)

    def beat(self, consumer: str, *, recover: bool = True) -> tuple[int, int]:
        """Keep ``consumer`` alive for one heartbeat; with ``recover``, also hand back the messages
        of consumers whose heartbeat lapsed. Returns (dead consumers, messages handed back)."""
        return self._run(consumer, recover)

    def recover(self) -> tuple[int, int]:
        """Hand back the in-flight messages of every consumer whose heartbeat lapsed."""
        return self._run("", True)

    def alive(self, consumer: str) -> bool:
        score = self._client.zscore(CONSUMERS_KEY, consumer)
        return score is not None and score > self._now_ms()

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _run(self, consumer: str, recover: bool) -> tuple[int, int]:
        dead, moved = self._script(
            keys=[CONSUMERS_KEY, GONE_CONSUMERS_KEY],
            args=[
                consumer,
                self._now_ms(),
                self._heartbeat_ms,
                RECOVER_BATCH,
                CONSUMER_QUEUES_PREFIX,
                INFLIGHT_PREFIX,
                INFLIGHT_SEP,
                "1" if recover else "0",
                self._remember_ms,
            ],
        )
        if moved:
            log.warning("handed %d message(s) of %d dead consumer(s) back to their queues", moved, dead)
        return int(dead), int(moved)


class QoS(_VirtualQoS):  # type: ignore[misc]  # kombu is untyped
    """Prefetch accounting as kombu's; acknowledgements go to this channel's in-flight lists."""

    restore_at_shutdown = True

    def ack(self, delivery_tag: str) -> None:
        self.channel._settle(delivery_tag)
        super().ack(delivery_tag)
        self._wake()

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        if requeue:
            self.channel._give_back(delivery_tag, head=False)  # behind the others, as kombu does
        else:
            self.channel._settle(delivery_tag)
        super().ack(delivery_tag)
        self._wake()

    def _wake(self) -> None:
        cycle = getattr(self.channel.connection, "cycle", None)
        if isinstance(cycle, Poller):
            cycle.wake()

    def restore_unacked(self) -> list[tuple[BaseException, Any]]:
        """Put every message this channel holds back at the head of its queue, except the ones
        still running (they are acknowledged when they finish, or recovered if this process dies)."""
        self._flush()
        errors: list[tuple[BaseException, Any]] = []
        while self._delivered:
            tag, message = self._delivered.popitem()
            if self.channel.running(message):
                continue
            try:
                self.channel._give_back(tag, head=True)
            except Exception as exc:  # Redis away: it stays in flight; the next channel puts it back
                errors.append((exc, message))
        return errors

    def restore_visible(self, *args: Any, **kwargs: Any) -> None:
        """Nothing waits for a visibility timeout here: dead consumers are recovered by heartbeat."""


class Channel(_RedisChannel):  # type: ignore[misc]  # kombu is untyped
    QoS = QoS
    # One list per queue, under the queue's own name: what LLEN, Flower and KEDA read.
    priority_steps = [0]
    consumer_id: str | None = None  # this process as a consumer (default: host:pid)
    consumer_heartbeat_s: float = 3.0  # EXAI_CONSUMER_HEARTBEAT_S
    # task id -> whether this process still runs it; messages of running calls are not given back
    is_running: Callable[[str], bool] | None = None
    from_transport_options = (*_RedisChannel.from_transport_options, "consumer_id", "consumer_heartbeat_s")
    from_transport_options += ("is_running",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._shared_client: redis.Redis | None = None
        self._no_ack: set[str] = set()
        self._order: list[str] = []  # queues in the order consumed: the first is waited on
        self._held: dict[str, tuple[bytes, str]] = {}  # delivery tag -> (message as stored, queue)
        self._blocking: str | None = None  # the command whose reply the poller waits for
        self._turn = 0
        super().__init__(*args, **kwargs)
        if self.global_keyprefix:
            raise ValueError("contracts.transport does not support kombu's global_keyprefix")
        self.consumer = self.consumer_id or default_consumer_id()
        self._fetch = self._create_client().register_script(_FETCH)
        self._return = self._create_client().register_script(_RETURN)
        self._adopt = self._create_client().register_script(_ADOPT)

    # --- clients -----------------------------------------------------------------------------
    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:  # the blocking (BLMOVE) and pub/sub connections stay one per use
            return super()._create_client(asynchronous=True)
        client = self._shared_client
        if client is None or client.connection_pool is not self.pool:  # rebuilt after a reconnect
            client = self._shared_client = super()._create_client(asynchronous=False)
        return client

    # --- consuming ---------------------------------------------------------------------------
    def basic_consume(self, queue: str, *args: Any, **kwargs: Any) -> Any:
        no_ack = bool(kwargs.get("no_ack", args[0] if args else False))
        ret = super().basic_consume(queue, *args, **kwargs)
        if queue not in self._fanout_queues:
            if queue not in self._order:
                self._order.append(queue)
            if no_ack:
                self._no_ack.add(queue)
            else:
                self._no_ack.discard(queue)
                self._take_over_predecessor(queue)
        return ret

    def _basic_cancel(self, consumer_tag: str) -> Any:
        queue = self._tag_to_queue.get(consumer_tag)
        ret = super()._basic_cancel(consumer_tag)
        if queue in self._order and queue not in self._active_queues:
            self._order.remove(queue)
        return ret

    def _take_over_predecessor(self, queue: str) -> None:
        """Register ``queue`` for this consumer and put back what an earlier channel of this
        consumer (before a reconnect, or a process with the same name before a restart) held."""
        inflight = inflight_key(self.consumer, queue)
        client = self._create_client()
        mine = {raw for raw, _ in self._held.values()}  # consumed again on this channel: still held
        keep = [raw for raw in client.lrange(inflight, 0, -1) if raw in mine or self._still_running(raw)]
        expiry = int((time.time() + self.consumer_heartbeat_s) * 1000)
        moved = self._adopt(
            keys=[CONSUMERS_KEY, CONSUMER_QUEUES_PREFIX + self.consumer, inflight, queue],
            args=[self.consumer, expiry, *keep],
        )
        if moved:
            log.warning("put %d message(s) this consumer no longer runs back on %s", moved, queue)

    def _still_running(self, raw: bytes) -> bool:
        try:
            task_id = message_task_id(_decode(raw))
        except (TypeError, ValueError):
            return False
        return bool(task_id and self.is_running is not None and self.is_running(task_id))

    def running(self, message: Any) -> bool:
        """Whether this process still runs ``message`` (then it must stay in flight)."""
        task_id = (getattr(message, "headers", None) or {}).get("id")
        return bool(task_id and self.is_running is not None and self.is_running(task_id))

    def _brpop_start(self, timeout: float | None = None) -> None:
        queues = [q for q in self._order if q in self.active_queues]
        if not queues:
            return
        if len(queues) > 1:
            # One non-blocking pass over every queue, starting one further each time (round robin);
            # only when all are empty does the channel block, on its first queue.
            start = self._turn % len(queues)
            self._turn += 1
            args: list[str] = []
            for queue in queues[start:] + queues[:start]:
                args += [queue, "" if queue in self._no_ack else inflight_key(self.consumer, queue)]
            self._send("EVAL", _FETCH, 0, *args)
            self._blocking = "FETCH"
            return
        self._wait_on(queues[0], self.brpop_timeout if timeout is None else timeout)

    def _wait_on(self, queue: str, timeout: float) -> None:
        if queue in self._no_ack:
            self._send("BRPOP", queue, timeout or 0)
            self._blocking = "BRPOP"
        else:
            self._send("BLMOVE", queue, inflight_key(self.consumer, queue), "RIGHT", "LEFT", timeout or 0)
            self._blocking = "BLMOVE:" + queue

    def _send(self, *command: Any) -> None:
        self._in_poll = self.client.connection
        self._brpop_sent_at = time.monotonic()
        self.client.connection.send_command(*command)

    def _brpop_read(self, **options: Any) -> bool:
        command, self._blocking = self._blocking or "BRPOP", None
        try:
            try:
                name = "EVAL" if command == "FETCH" else command.split(":")[0]
                reply = self.client.parse_response(self.client.connection, name, **options)
            except self.connection_errors:
                self.client.connection.disconnect()  # the next poll reconnects
                raise
        finally:
            self._in_poll = None
        if command == "FETCH":
            if not reply:
                queues = [q for q in self._order if q in self.active_queues]
                if queues and not self._closing:
                    self._wait_on(queues[0], self.brpop_timeout)  # every queue empty: wait on one
                raise Empty()
            queue, raw = _text(reply[0]), reply[1]
        elif command == "BRPOP":
            if not reply:
                raise Empty()
            queue, raw = _text(reply[0]), reply[1]
        else:
            if reply is None:
                raise Empty()
            queue, raw = command.split(":", 1)[1], reply
        self._flush_brpop_reauth()
        self._deliver_raw(queue, raw)
        return True

    def _deliver_raw(self, queue: str, raw: bytes) -> None:
        payload = _decode(raw)
        if queue not in self._no_ack:
            self._held[payload["properties"]["delivery_tag"]] = (raw, queue)
        self.connection._deliver(payload, queue)

    def basic_get(self, queue: str, no_ack: bool = False, **kwargs: Any) -> Any:
        if no_ack:
            return super().basic_get(queue, no_ack=True, **kwargs)
        raw = self._create_client().lmove(queue, inflight_key(self.consumer, queue), "RIGHT", "LEFT")
        if raw is None:
            return None
        self._create_client().sadd(CONSUMER_QUEUES_PREFIX + self.consumer, queue)
        payload = _decode(raw)
        self._held[payload["properties"]["delivery_tag"]] = (raw, queue)
        message = self.Message(payload, channel=self)
        self.qos.append(message, message.delivery_tag)
        return message

    # --- settling ------------------------------------------------------------------------------
    def _settle(self, delivery_tag: str) -> None:
        held = self._held.pop(delivery_tag, None)
        if held is not None:
            raw, queue = held
            self._create_client().lrem(inflight_key(self.consumer, queue), 1, raw)

    def _give_back(self, delivery_tag: str, *, head: bool) -> None:
        held = self._held.get(delivery_tag)
        if held is None:
            return
        raw, queue = held
        self._return(keys=[inflight_key(self.consumer, queue), queue], args=[raw, "head" if head else "tail"])
        self._held.pop(delivery_tag, None)

    def _restore(self, message: Any, leftmost: bool = False) -> None:
        """kombu's requeue of one delivered message (Celery's reject, a message nobody consumes)."""
        self._give_back(message.delivery_tag, head=not leftmost)

    def in_flight(self, queues: Iterable[str] | None = None) -> int:
        """Messages this consumer holds in flight (for tests and health)."""
        client = self._create_client()
        return sum(int(client.llen(inflight_key(self.consumer, q))) for q in (queues or self._order))


class Poller(_RedisPoller):  # type: ignore[misc]  # kombu is untyped
    """kombu's poller, plus a pipe an acknowledgement writes to so a saturated consumer wakes.

    The pipe exists only while some channel of this connection consumes; :meth:`close` closes it
    and forgets its descriptors, so nothing ever writes to a number the process has reused.
    """

    def __init__(self) -> None:
        super().__init__()
        self._pipe: tuple[int, int] | None = None  # (read end, write end)
        self._registered_in: Any = None
        self._hub = False  # an event loop watches fds itself (see on_poll_init)
        self._saturated = False

    def wake(self) -> None:
        pipe = self._pipe
        if pipe is not None and self._saturated:
            self._saturated = False
            with contextlib.suppress(OSError):
                os.write(pipe[1], b"!")

    def on_poll_init(self, poller: Any) -> Any:
        self._hub = True  # Celery's event loop: it registers ``fds`` (the pipe among them) itself
        return super().on_poll_init(poller)

    def on_poll_start(self) -> None:
        super().on_poll_start()
        consuming = [c for c in self._channels if c.active_queues]
        if consuming and self._pipe is None:
            read, write = os.pipe()
            os.set_blocking(read, False)
            os.set_blocking(write, False)
            self._pipe = (read, write)
        if self._pipe is not None and not self._hub and self._registered_in is not self.poller:
            self.poller.register(self._pipe[0], self.eventflags)
            self._registered_in = self.poller
        self._saturated = any(not c.qos.can_consume() for c in consuming)

    def _is_wake(self, fileno: int) -> bool:
        return self._pipe is not None and fileno == self._pipe[0]

    def _drain_wake(self) -> None:
        if self._pipe is not None:
            with contextlib.suppress(OSError):
                while os.read(self._pipe[0], 512):
                    pass

    def on_readable(self, fileno: int) -> Any:
        if self._is_wake(fileno):
            return self._drain_wake()
        return super().on_readable(fileno)

    def handle_event(self, fileno: int, event: int) -> Any:
        if self._is_wake(fileno):
            return self._drain_wake()  # the next poll sends BLMOVE for the freed slot
        return super().handle_event(fileno, event)

    @property
    def fds(self) -> dict[int, Any]:
        fds: dict[int, Any] = super().fds
        if self._pipe is not None:
            fds[self._pipe[0]] = None
        return fds

    def close(self) -> None:
        pipe, self._pipe = self._pipe, None
        if pipe is not None:
            with contextlib.suppress(KeyError, ValueError, OSError):
                self.poller.unregister(pipe[0])
            for fd in pipe:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._registered_in = None
        super().close()


class Transport(_RedisTransport):  # type: ignore[misc]  # kombu is untyped
    Channel = Channel

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cycle = Poller()  # every channel of this connection shares it, as with kombu's
        # kombu parses the URL for this transport (the class says it cannot), then asks this
        # instance to write it back: as redis://, which Flower's broker page and logs expect,
        # rather than under this class's import path.
        self.can_parse_url = True

    def as_uri(self, uri: str, include_password: bool = False, mask: str = "**") -> str:
        client = self.client
        password = client.password
        if callable(password):
            password = password()
        return str(
            as_url(
                "rediss" if client.ssl else "redis",
                client.hostname,
                client.port,
                client.userid,
                password,
                quote(str(client.virtual_host or "")),
                sanitize=not include_password,
                mask=mask,
            )
        )

