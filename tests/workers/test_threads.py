"""Conversation threads in real Redis: TTL refreshed per turn, turn limit, ownership, history budget."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis

from contracts.errors import InvalidArguments
from contracts.models import ModelInfo
from contracts.names import thread_key, thread_reservations_key
from contracts.settings import load_settings
from tests.workers.redis_fixture import redis_client
from workers.history import build_history
from workers.threads import TURNS_PER_CALL, Thread, ThreadLimitReached, ThreadStore, Turn

__all__ = ["redis_client"]


def turns(n: int, text: str = "word") -> list[Turn]:
    return [
        Turn(role="user" if i % 2 == 0 else "assistant", content=f"{text} {i}", tool="chat") for i in range(n)
    ]


def test_each_turn_refreshes_the_threads_lifetime(redis_client: redis.Redis) -> None:
    """The key's TTL is set back to EXAI_THREAD_TTL_S on every append."""
    store = ThreadStore(redis_client, load_settings(exai_thread_ttl_s=120))
    thread = store.create("alice", "chat")
    redis_client.expire(thread_key(thread.id), 5)
    store.append(thread, turns(2))
    assert 100 < redis_client.ttl(thread_key(thread.id)) <= 120


def test_a_thread_at_its_turn_limit_refuses_more(redis_client: redis.Redis) -> None:
    """Past EXAI_THREAD_MAX_TURNS the error names the setting and says to start anew."""
    store = ThreadStore(redis_client, load_settings(exai_thread_max_turns=4))
    thread = store.create("alice", "chat")
    thread = store.append(thread, turns(4))
    assert store.remaining(thread) == 0
    with pytest.raises(ThreadLimitReached, match="EXAI_THREAD_MAX_TURNS"):
        store.ensure_room(thread)
    with pytest.raises(ThreadLimitReached):
        store.append(thread, turns(2))


def test_a_thread_belongs_to_the_client_that_created_it(redis_client: redis.Redis) -> None:
    """Another identity sees the thread as unknown, exactly like an expired one."""
    store = ThreadStore(redis_client, load_settings())
    thread = store.create("alice", "chat")
    assert store.load(thread.id, "alice").id == thread.id
    with pytest.raises(InvalidArguments, match="unknown or expired"):
        store.load(thread.id, "mallory")
    with pytest.raises(InvalidArguments, match="unknown or expired"):
        store.load("no-such-thread", "alice")


def test_an_expired_thread_is_restored_by_the_restorer(redis_client: redis.Redis) -> None:
    """When Redis lost the thread, the restorer (durable storage) brings it back."""
    store = ThreadStore(redis_client, load_settings())
    thread = store.create("alice", "chat")
    thread = store.append(thread, turns(2))
    redis_client.delete(thread_key(thread.id))
    restoring = ThreadStore(
        redis_client, load_settings(), restore=lambda tid: thread if tid == thread.id else None
    )
    assert len(restoring.load(thread.id, "alice").turns) == 2
    assert redis_client.exists(thread_key(thread.id))


def test_history_keeps_the_newest_turns_and_summarises_the_rest(redis_client: redis.Redis) -> None:
    """With a small budget the oldest turns are summarised, the newest kept whole, in order."""
    store = ThreadStore(redis_client, load_settings())
    thread = store.append(store.create("alice", "chat"), turns(10, "x " * 200))
    history = build_history(thread, 600, load_settings())
    assert 0 < history.kept_turns < 10 and history.kept_turns + history.dropped_turns == 10
    assert "earlier turns" in history.messages[0]["content"]
    assert history.messages[-1]["content"].endswith("9")


def test_history_embeds_each_referenced_file_once(tmp_path: Path, redis_client: redis.Redis) -> None:
    """A file named by several turns is embedded once; files of the current turn are skipped."""
    (tmp_path / "a.py").write_text("A = 1\n")
    (tmp_path / "b.py").write_text("B = 2\n")
    settings = load_settings(exai_file_roots=str(tmp_path))
    store = ThreadStore(redis_client, settings)
    a, b = str(tmp_path / "a.py"), str(tmp_path / "b.py")
    thread = store.append(
        store.create("alice", "chat"),
        [Turn("user", "one", "chat", files=[a]), Turn("user", "two", "chat", files=[a, b])],
    )
    history = build_history(thread, 10_000, settings, skip_files=frozenset({str(Path(b).resolve())}))
    text = "\n".join(m["content"] for m in history.messages)
    assert text.count("A = 1") == 1 and "B = 2" not in text


def test_context_budget_error_asks_for_less() -> None:
    """A prompt above the model's window is refused before any provider call, saying what to do."""
    from workers.budget import ensure_fits

    small = ModelInfo("moonshot-v1-8k", "kimi", 8192)
    with pytest.raises(InvalidArguments, match="send less"):
        ensure_fits(small, [{"role": "user", "content": "x" * 100_000}], 1000)


def test_turns_of_a_call_run_twice_are_recorded_once(redis_client: redis.Redis) -> None:
    """A redelivered call appends nothing the second time."""
    store = ThreadStore(redis_client, load_settings())
    thread = store.create("alice", "chat")
    once = [Turn("user", "q", "chat", call_id="c-1"), Turn("assistant", "a", "chat", call_id="c-1")]
    store.append(thread, once)
    again = store.append(thread, [Turn("user", "q", "chat", call_id="c-1")])
    assert len(again.turns) == 2


def test_a_new_thread_is_stored_with_its_first_turns_and_state(redis_client: redis.Redis) -> None:
    """One write holds the first call's turns and workflow state; loading gives them back."""
    store = ThreadStore(redis_client, load_settings(exai_thread_ttl_s=120, exai_thread_max_turns=4))
    thread = store.create("alice", "debug", turns(2), {"step": 1})
    loaded = store.load(thread.id, "alice")
    assert [t.content for t in loaded.turns] == ["word 0", "word 1"] and loaded.state == {"step": 1}
    assert 100 < redis_client.ttl(thread_key(thread.id)) <= 120
    with pytest.raises(ThreadLimitReached):
        store.create("alice", "debug", turns(5))


def full_but_two(store: ThreadStore) -> Thread:
    """A thread with room for exactly one more call (one turn pair)."""
    return store.append(store.create("alice", "chat"), turns(store.max_turns - TURNS_PER_CALL))


def test_only_one_of_two_calls_can_reserve_the_last_turn_pair(redis_client: redis.Redis) -> None:
    """The second reservation finds the first one's and is refused with the turn-limit error."""
    store = ThreadStore(redis_client, load_settings(exai_thread_max_turns=6))
    thread = full_but_two(store)
    store.reserve(thread, "call-a", until=time.time() + 60)
    with pytest.raises(ThreadLimitReached, match="reached its limit of 6 turns"):
        store.reserve(thread, "call-b", until=time.time() + 60)


def test_a_call_run_again_keeps_its_own_reservation(redis_client: redis.Redis) -> None:
    """A redelivered or retried call reserves again and finds its own reservation, not a rival's."""
    store = ThreadStore(redis_client, load_settings(exai_thread_max_turns=6))
    thread = full_but_two(store)
    store.reserve(thread, "call-a", until=time.time() + 60)
    store.reserve(thread, "call-a", until=time.time() + 60)
    appended = store.append(thread, [Turn("user", "q", "chat", call_id="call-a"),
                                     Turn("assistant", "a", "chat", call_id="call-a")])  # fmt: skip
    assert len(appended.turns) == 6
    assert redis_client.zcard(thread_reservations_key(thread.id)) == 0  # consumed with the append
    store.reserve(thread, "call-a", until=time.time() + 60)  # its turns are there: nothing to reserve


def test_a_reservation_lapses_at_its_call_s_deadline(redis_client: redis.Redis) -> None:
    """The reservation of a call whose worker died frees the turns once its deadline has passed."""
    store = ThreadStore(redis_client, load_settings(exai_thread_max_turns=6))
    thread = full_but_two(store)
    start = time.time()
    store.reserve(thread, "dead-call", until=start + 30, now=start)
    with pytest.raises(ThreadLimitReached):
        store.reserve(thread, "next-call", until=start + 90, now=start + 29)
    store.reserve(thread, "next-call", until=start + 90, now=start + 31)
    assert 0 < redis_client.pttl(thread_reservations_key(thread.id)) <= 90_000


def test_an_append_leaves_the_turns_other_calls_reserved(redis_client: redis.Redis) -> None:
    """A call that holds no reservation cannot record its turns into room another call reserved."""
    store = ThreadStore(redis_client, load_settings(exai_thread_max_turns=6))
    thread = full_but_two(store)
    store.reserve(thread, "call-a", until=time.time() + 60)
    with pytest.raises(ThreadLimitReached):
        store.append(thread, [Turn("user", "q", "chat", call_id="call-b"),
                              Turn("assistant", "a", "chat", call_id="call-b")])  # fmt: skip
    with redis_client.pipeline() as pipe:
        store.release(pipe, thread.id, "call-a")
        pipe.execute()
    assert len(store.append(thread, turns(2)).turns) == 6
