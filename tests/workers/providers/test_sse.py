"""Server-sent event parsing."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from workers.providers.sse import DONE, SseEvent, iter_events


def test_each_blank_line_ends_one_event() -> None:
    """data lines followed by a blank line make one event each."""
    lines = ['data: {"a": 1}', "", 'data: {"b": 2}', "", f"data: {DONE}", ""]
    assert [e.data for e in iter_events(lines)] == ['{"a": 1}', '{"b": 2}', DONE]


def test_multi_line_data_is_joined_with_newlines() -> None:
    """Several data fields of one event join with a newline."""
    assert list(iter_events(["data: one", "data: two", ""])) == [SseEvent("one\ntwo")]


def test_comments_retry_and_unknown_fields_are_ignored() -> None:
    """Keep-alive comments and fields other than data/event/id do not make events."""
    lines = [": keep-alive", "", "retry: 10", "foo: bar", "", "data: x", ""]
    assert [e.data for e in iter_events(lines)] == ["x"]


def test_event_name_and_id_are_kept() -> None:
    """event: names the event, id: carries over to later events."""
    events = list(iter_events(["event: error", "id: 7", "data: boom", "", "data: next", ""]))
    assert events == [SseEvent("boom", "error", "7"), SseEvent("next", "message", "7")]


def test_only_one_space_after_the_colon_is_stripped() -> None:
    """'data:x' and 'data: x' are the same; a second space belongs to the value."""
    assert [e.data for e in iter_events(["data:x", "", "data:  y", ""])] == ["x", " y"]


def test_an_event_cut_off_by_the_end_of_the_stream_is_still_delivered() -> None:
    """A last event without its blank line is not lost."""
    assert [e.data for e in iter_events(["data: a", "", f"data: {DONE}"])] == ["a", DONE]


@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="\r\n"), min_size=1), max_size=10))
def test_any_single_line_payloads_round_trip(payloads: list[str]) -> None:
    """Whatever one-line payloads are framed as events come back unchanged, in order."""
    lines = [line for payload in payloads for line in (f"data: {payload}", "")]
    assert [e.data for e in iter_events(lines)] == payloads
