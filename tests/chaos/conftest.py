from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chaos.ledger import Figures

_FIGURES: list[Figures] = []


@pytest.fixture
def record_figures() -> Iterator[list[Figures]]:
    """Figures appended here are printed at the end of the run (and kept in chaos-figures.txt)."""
    collected: list[Figures] = []
    yield collected
    _FIGURES.extend(collected)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _FIGURES:
        return
    terminalreporter.section("chaos figures")
    lines = [f.line() for f in _FIGURES]
    for line in lines:
        terminalreporter.write_line(line)
    out = Path(str(terminalreporter.config.rootpath)) / ".pytest_cache" / "chaos-figures.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
