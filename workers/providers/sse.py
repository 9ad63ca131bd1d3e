"""Server-sent events: turn the lines of a streamed reply into events (no I/O here)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

DONE = "[DONE]"  # the data of the OpenAI-dialect event that ends a stream


@dataclass(frozen=True)
class SseEvent:
    data: str
    event: str = "message"
    id: str | None = None


def iter_events(lines: Iterable[str]) -> Iterator[SseEvent]:
    """Events from lines without their line endings, per the WHATWG event-stream rules.

    A blank line dispatches the event; several ``data:`` lines are joined with newlines; comments
    (``:`` lines), ``retry:`` and unknown fields are ignored; events without data are dropped.
    Unlike the standard, an event cut off by the end of the stream is still delivered: some
    providers omit the blank line after their last event.
    """
    data: list[str] = []
    event = ""
    last_id: str | None = None
    for line in lines:
        if not line:
            if data:
                yield SseEvent("\n".join(data), event or "message", last_id)
            data, event = [], ""
            continue
        if line.startswith(":"):
            continue
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        elif name == "id" and "\0" not in value:
            last_id = value
    if data:
        yield SseEvent("\n".join(data), event or "message", last_id)
