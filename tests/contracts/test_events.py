"""Metric events: buffered cheaply, dropped oldest-first under pressure, read back safely."""

from __future__ import annotations

import json

from contracts import events
from contracts.events import EventBuffer, ProcessSampler, decode_event, stream_entries


def test_events_are_buffered_as_compact_json_and_drained_once() -> None:
    """Each event carries its kind and a timestamp; draining empties the buffer."""
    buffer = EventBuffer(limit=100)
    buffer.add(events.RETRY, provider="kimi", reason="rate_limit")
    drained = buffer.drain()
    assert len(drained) == 1 and buffer.drain() == []
    event = json.loads(drained[0])
    assert event["k"] == "retry" and event["provider"] == "kimi" and event["t"] > 0


def test_a_full_buffer_drops_the_oldest_events() -> None:
    """A process that cannot flush keeps the newest events and bounded memory."""
    buffer = EventBuffer(limit=3)
    for i in range(5):
        buffer.add(events.ERROR, component="gateway", error_type=f"e{i}")
    assert [json.loads(e)["error_type"] for e in buffer.drain()] == ["e2", "e3", "e4"]


def test_stream_entries_round_trip_and_foreign_entries_are_ignored() -> None:
    """What is written to the stream decodes back; anything else decodes to None."""
    buffer = EventBuffer(limit=10)
    buffer.add(events.CALL, tool="chat", status="ok")
    (entry,) = stream_entries(buffer.drain())
    as_read = {k.encode(): v.encode() for k, v in entry.items()}
    assert decode_event(as_read)["tool"] == "chat"  # type: ignore[index]
    assert decode_event({b"other": b"1"}) is None
    assert decode_event({b"e": b"not json"}) is None
    assert decode_event({b"e": b"[1, 2]"}) is None


def test_the_process_sampler_reads_memory_and_cpu() -> None:
    """Resident memory is positive; CPU use is a non-negative ratio."""
    rss, cpu = ProcessSampler().sample()
    assert rss > 0 and cpu >= 0
