"""The project's queue protocol: atomic delivery into a consumer's in-flight list, acks, recovery."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from kombu import Connection, Consumer, Exchange, Producer, Queue

from cli.local_redis import LocalRedis
from contracts.names import CONSUMERS_KEY, GONE_CONSUMERS_KEY, inflight_key
from contracts.transport import Consumers

TRANSPORT = "contracts.transport:Transport"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRedis]:
    local = LocalRedis(Path(tmp_path_factory.mktemp("redis")), persist=False).start()
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture
def client(server: LocalRedis) -> Iterator[redis.Redis]:
    c = redis.Redis(port=server.port)
    c.flushdb()
    yield c
    c.close()


def connect(server: LocalRedis, **options: Any) -> Connection:
    url = f"redis://127.0.0.1:{server.port}/0"
    return Connection(url, transport=TRANSPORT, transport_options={"consumer_id": "c1", **options})


def declared(queue: str) -> Queue:
    return Queue(queue, Exchange(queue), routing_key=queue)


def publish(connection: Connection, queue: str, *bodies: str, **headers: str) -> None:
    with connection.channel() as channel:
        producer = Producer(channel)
        for body in bodies:
            producer.publish(
                {"body": body},
                routing_key=queue,
                exchange=Exchange(queue),
                declare=[declared(queue)],
                headers={"id": body} if headers else {},
            )


def take(connection: Connection, queues: list[str], count: int, *, no_ack: bool = False) -> list[Any]:
    """Consume ``count`` messages (without acknowledging them) and return them."""
    got: list[Any] = []
    channel = connection.channel()
    consumer = Consumer(channel, [declared(q) for q in queues], no_ack=no_ack)
    consumer.register_callback(lambda body, message: got.append(message))
    consumer.consume()
    while len(got) < count:
        connection.drain_events(timeout=5)
    return got


def bodies(client: redis.Redis, key: str) -> list[str]:
    """The bodies of the messages stored under ``key``, as the producer sent them."""
    stored = [json.loads(raw) for raw in client.lrange(key, 0, -1)]
    return [json.loads(base64.b64decode(message["body"]))["body"] for message in stored]


def test_a_delivered_message_is_in_the_consumers_in_flight_list_until_acknowledged(
    server: LocalRedis, client: redis.Redis
) -> None:
    """Taking a message moves it into the consumer's list in one step; the ack removes it."""
    with connect(server) as connection:
        publish(connection, "q1", "a", "b")
        assert client.type("q1") == b"list" and client.llen("q1") == 2  # what LLEN and KEDA read
        (first,) = take(connection, ["q1"], 1)
        assert first.payload == {"body": "a"}
        assert bodies(client, inflight_key("c1", "q1")) == ["a"]
        assert client.llen("q1") == 1
        first.ack()
        assert client.llen(inflight_key("c1", "q1")) == 0
        assert client.smembers("exai:consumer-queues:c1") == {b"q1"}
        assert client.zscore(CONSUMERS_KEY, "c1") is not None


def test_a_rejected_message_goes_back_to_its_queue_and_out_of_flight(
    server: LocalRedis, client: redis.Redis
) -> None:
    """Requeue puts it behind the waiting messages (as kombu does); a plain reject drops it."""
    with connect(server) as connection:
        publish(connection, "q2", "a", "b", "c")
        first, second = take(connection, ["q2"], 2)
        first.reject(requeue=True)
        second.reject()
        assert client.llen(inflight_key("c1", "q2")) == 0
        assert bodies(client, "q2") == ["a", "c"]  # "c" is taken next, "a" after it


def test_the_messages_of_a_consumer_whose_heartbeat_lapsed_go_back_to_the_head_of_their_queue(
    server: LocalRedis, client: redis.Redis
) -> None:
    """Recovery by heartbeat: the dead consumer's messages come back oldest first; the live one's stay."""
    now = [5000.0]
    consumers = Consumers(client, 3, remember_s=30, clock=lambda: now[0])
    dead, live = connect(server, consumer_id="dead"), connect(server, consumer_id="live")
    publish(dead, "q3", "m1", "m2", "m3", "m4")
    held = take(dead, ["q3"], 2) + take(live, ["q3"], 1)  # never closed: as after a kill -9
    publish(dead, "q3", "m5")
    consumers.beat("dead", recover=False)
    consumers.beat("live")
    now[0] += 2
    consumers.beat("live")
    assert consumers.recover() == (0, 0)  # nobody's heartbeat lapsed yet
    now[0] += 1.5
    assert consumers.recover() == (1, 2)
    assert client.llen(inflight_key("dead", "q3")) == 0
    assert bodies(client, inflight_key("live", "q3")) == ["m3"]
    assert bodies(client, "q3") == ["m5", "m4", "m2", "m1"]  # m1 is taken first again
    assert not consumers.alive("dead") and consumers.alive("live")
    assert client.zscore(GONE_CONSUMERS_KEY, "dead") == 5_003_500  # ms, when recovered
    now[0] += 31
    consumers.recover()
    assert client.zscore(GONE_CONSUMERS_KEY, "dead") is None  # forgotten after remember_s
    assert len(held) == 3
    dead.release()
    live.release()


def test_a_consumer_of_several_queues_takes_from_each_and_pops_unacknowledged_queues(
    server: LocalRedis, client: redis.Redis
) -> None:
    """One non-blocking pass over all queues, round robin; a no-ack queue is popped, not tracked."""
    with connect(server) as connection:
        publish(connection, "q4a", "a1", "a2")
        publish(connection, "q4b", "b1")
        got = take(connection, ["q4a", "q4b"], 3)
        assert sorted(m.payload["body"] for m in got) == ["a1", "a2", "b1"]
        assert bodies(client, inflight_key("c1", "q4b")) == ["b1"]
        assert client.llen(inflight_key("c1", "q4a")) == 2
        for message in got:
            message.ack()
        publish(connection, "q4c", "r1")
        (reply,) = take(connection, ["q4c"], 1, no_ack=True)
        assert reply.payload == {"body": "r1"}
        assert client.llen(inflight_key("c1", "q4c")) == 0 and client.llen("q4c") == 0


def test_a_message_published_while_a_consumer_waits_is_delivered_to_it(
    server: LocalRedis, client: redis.Redis
) -> None:
    """The blocking BLMOVE wakes for a message that arrives after it was sent."""
    with connect(server) as connection, connect(server, consumer_id="p") as producer:
        got: list[Any] = []
        channel = connection.channel()
        consumer = Consumer(channel, [declared("q5")])
        consumer.register_callback(lambda body, message: got.append(message))
        consumer.consume()
        with pytest.raises(TimeoutError):
            connection.drain_events(timeout=0.2)  # BLMOVE now waits in Redis
        publish(producer, "q5", "late")
        connection.drain_events(timeout=5)
        assert [m.payload["body"] for m in got] == ["late"]


def test_closing_a_channel_puts_back_what_it_holds_except_the_calls_still_running(
    server: LocalRedis, client: redis.Redis
) -> None:
    """A warm shutdown or reconnect: idle deliveries go back; running ones stay in flight to be acked."""
    running = {"busy"}
    with connect(server, is_running=lambda task_id: task_id in running) as connection:
        publish(connection, "q6", "busy", "idle", ids="yes")
        got = take(connection, ["q6"], 2)
        connection.release()
    assert client.llen("q6") == 1
    assert json.loads(client.lindex("q6", 0))["headers"]["id"] == "idle"
    in_flight = client.lrange(inflight_key("c1", "q6"), 0, -1)
    assert [json.loads(raw)["headers"]["id"] for raw in in_flight] == ["busy"]
    assert len(got) == 2


def test_a_new_channel_of_the_same_consumer_puts_back_what_no_one_runs_any_more(
    server: LocalRedis, client: redis.Redis
) -> None:
    """After a reconnect (or a restart under the same name) the predecessor's idle messages return."""
    for task_id in ("busy", "dropped"):
        message = {"body": "{}", "headers": {"id": task_id}, "properties": {"delivery_tag": task_id}}
        client.lpush(inflight_key("c1", "q7"), json.dumps(message))
    with connect(server, is_running=lambda task_id: task_id == "busy") as connection:
        channel = connection.channel()
        Consumer(channel, [declared("q7")]).consume()
        assert [json.loads(r)["headers"]["id"] for r in client.lrange("q7", 0, -1)] == ["dropped"]
        assert [json.loads(r)["headers"]["id"] for r in client.lrange(inflight_key("c1", "q7"), 0, -1)] == [
            "busy"
        ]
        channel.close()


def test_a_channel_builds_its_redis_client_once_until_its_pool_changes(server: LocalRedis) -> None:
    """One client per channel and pool, rebuilt after a reconnect replaced the pool."""
    with connect(server) as connection:
        channel = connection.default_channel
        first = channel._create_client()
        assert channel._create_client() is first
        assert channel._create_client(asynchronous=True) is not first  # the blocking one stays apart
        channel._disconnect_pools()
        assert channel._create_client() is not first


def test_the_connection_writes_its_url_back_as_redis_with_the_password_masked(server: LocalRedis) -> None:
    """Flower picks its broker page by the URL's scheme: redis://, not this transport's import path."""
    url = f"redis://:s3cret@127.0.0.1:{server.port}/3"
    with Connection(url, transport=TRANSPORT) as connection:
        assert connection.as_uri() == f"redis://:**@127.0.0.1:{server.port}/3"
        assert connection.as_uri(include_password=True) == url
