"""`exai call`'s progress line and streamed text, without a gateway."""

from __future__ import annotations

import io

from cli.call import ProgressLine, TextStream


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_progress_is_redrawn_in_place_with_a_bar_when_a_total_is_known() -> None:
    """Each update rewrites the same line; a total draws a bar and a percentage; clear erases it."""
    screen = Terminal()
    line = ProgressLine(screen)
    line.update(5, 10, "step 5")
    line.update(10, 10, "step 10")
    line.clear()
    text = screen.getvalue()
    assert text.count("\r\x1b[K") == 3
    assert "[############------------]  50%" in text and "step 10" in text
    assert "\n" not in text


def test_off_a_terminal_progress_is_a_plain_line_at_most_every_interval() -> None:
    """Logs and pipes get whole lines, throttled, and no escape codes."""
    pipe = io.StringIO()
    line = ProgressLine(pipe, every_s=3600)
    line.update(1, None, "waiting for a worker")
    line.update(2, None, "running")
    assert pipe.getvalue().count("\n") == 1 and "\x1b" not in pipe.getvalue()
    assert "waiting for a worker" in pipe.getvalue()


def test_streamed_text_is_printed_once() -> None:
    """Chunks go out as they come; the final answer only adds what was not streamed."""
    out = io.StringIO()
    text = TextStream(out)
    assert text.remainder("anything") is None
    text.feed("Hello, ")
    text.feed("wor")
    assert out.getvalue() == "Hello, wor"
    assert text.remainder("Hello, world") == "ld"
