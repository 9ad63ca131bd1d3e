"""The peer table: medians of the rounds, and a failed scenario shown as such, not as a crash."""

from __future__ import annotations

import json
from pathlib import Path

from bench.peers.__main__ import _median
from bench.peers.report import markdown, write


def _results() -> dict[str, object]:
    return {
        "machine": "2 cores",
        "command": "python -m bench.peers",
        "rounds": 3,
        "sizes": {"latency": 200},
        "needs": {"a": "nothing", "b": "a Redis"},
        "peers": {
            "a": {
                "latency": _median([{"p50_ms": 3.0}, {"p50_ms": 1.0}, {"p50_ms": 2.0}]),
                "throughput": _median([{"calls_per_s": 100.0, "cpu_ms_per_call": 2.0}, "failed: boom"]),
            },
            "b": {"failed": "failed to start: RuntimeError: exited (1)"},
        },
    }


def test_figures_are_the_medians_of_the_rounds_that_completed() -> None:
    """Three rounds give their median; a failed round is left out and noted."""
    results = _results()
    peers = results["peers"]
    assert isinstance(peers, dict)
    assert peers["a"]["latency"] == {"p50_ms": 2.0}
    assert peers["a"]["throughput"]["note"] == "1 of 2 rounds failed: boom"
    assert _median(["failed: no end", "failed: again"]) == "failed: no end"


def test_a_failed_peer_or_scenario_reads_failed_in_its_cell(tmp_path: Path) -> None:
    """The table holds the figure, "failed: <why>" or "not run", and the files are all written."""
    text = markdown(_results())
    row = next(line for line in text.splitlines() if line.startswith("| p50 one call"))
    assert row == "| p50 one call, 0 ms provider (ms) | 2.0 | failed to start: RuntimeError: exited (1) |"
    assert "| 1,000 calls held 2 s: wall (s) | not run |" in text
    assert "* a, throughput: 1 of 2 rounds failed: boom" in text
    assert "* **b**: a Redis" in text
    write(_results(), tmp_path)
    assert json.loads((tmp_path / "peers.json").read_text())["rounds"] == 3
    assert (tmp_path / "peers.png").stat().st_size > 0
