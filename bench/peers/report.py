"""The peer benchmark's results on disk: ``peers.json``, ``peers.md`` (tables) and ``peers.png``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# (row label, scenario, figure, format)
ROWS = (
    ("p50 one call, 0 ms provider (ms)", "latency", "p50_ms", "{:.1f}"),
    ("server CPU per call (ms)", "throughput", "cpu_ms_per_call", "{:.2f}"),
    ("calls/s at 100 in flight", "throughput", "calls_per_s", "{:.0f}"),
    ("1,000 calls held 2 s: wall (s)", "held_1000", "wall_s", "{:.1f}"),
    ("2,000 calls held 2 s: wall (s)", "held_2000", "wall_s", "{:.1f}"),
    ("peak RSS, all server processes, 1,000 in flight (MB)", "held_1000", "peak_rss_mb", "{:.0f}"),
)


def figure(results: dict[str, Any], peer: str, scenario: str, key: str) -> float | str:
    """The median, or why there is none ("failed: …")."""
    of_peer = results["peers"].get(peer, {})
    if "failed" in of_peer:
        return str(of_peer["failed"])
    outcome = of_peer.get(scenario)
    if outcome is None:
        return "not run"
    if isinstance(outcome, str):
        return outcome
    value: float = outcome[key]
    return value


def _cell(value: float | str, fmt: str) -> str:
    if isinstance(value, str):
        return value.replace("|", "/").replace("\n", " ")[:160]
    return fmt.format(value)


def markdown(results: dict[str, Any]) -> str:
    peers = list(results["peers"])
    lines = [
        "# This project beside its peers",
        "",
        f"`{results['command']}` (`make bench-peers`) on {results['machine']}, shared with other work, so "
        f"the figures are indicative; medians of {results['rounds']} rounds, the peers alternating "
        f"within each round. Sizes: {results['sizes']}.",
        "",
        "| | " + " | ".join(peers) + " |",
        "|---|" + "---|" * len(peers),
    ]
    for label, scenario, key, fmt in ROWS:
        cells = [_cell(figure(results, p, scenario, key), fmt) for p in peers]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    notes = [
        f"* {peer}, {scenario}: {outcome['note']}"
        for peer, of_peer in results["peers"].items()
        for scenario, outcome in of_peer.items()
        if isinstance(outcome, dict) and "note" in outcome
    ]
    if notes:
        lines += ["", "Rounds that failed (the figure is the median of the others):", "", *notes]
    lines += [
        "",
        "Server CPU is the user + system time of all the server's processes (this project: gateway "
        "and worker; FastMCP + Docket: the server, which runs the Docket worker) during the 100-in-"
        "flight run, divided by its calls; the emulator and Redis are not counted. RSS is summed over "
        "the same processes.",
        "",
        "## What each peer needed",
        "",
        *[f"* **{peer}**: {needs}" for peer, needs in results["needs"].items()],
    ]
    if "distance" in results:
        lines += _distance(results["distance"])
    return "\n".join(lines) + "\n"


def _distance(rows: list[dict[str, Any]]) -> list[str]:
    keys = list(rows[0])
    return [
        "",
        "## A provider far away: TLS and a 50 ms round trip",
        "",
        "The emulator behind `--rtt-ms 50` (and `--tls`, trusted through `EXAI_PROVIDER_CA_FILE`); a "
        "warm call of this project (WebSocket, p50) beside a direct kept-alive httpx call to the same "
        "emulator with the worker's request body. `goal_met`: the warm call is within one round trip "
        "+ 5 ms; `no_handshake`: it adds less than half a round trip to the direct call. "
        "`emulator_connections`: TCP connections the worker opened for `project_calls` calls.",
        "",
        "| " + " | ".join(keys) + " |",
        "|" + "---|" * len(keys),
        *["| " + " | ".join(str(row[k]) for k in keys) + " |" for row in rows],
    ]


def plot(results: dict[str, Any], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # the table carries the figures
        return
    peers = list(results["peers"])
    fig, axes = plt.subplots(2, 3, figsize=(13, 7))
    for ax, (label, scenario, key, _) in zip(axes.flat, ROWS, strict=True):
        values = [figure(results, p, scenario, key) for p in peers]
        heights = [v if isinstance(v, float | int) else 0 for v in values]
        bars = ax.bar(range(len(peers)), heights, color="tab:blue")
        for bar, value in zip(bars, values, strict=True):
            if isinstance(value, str):
                ax.text(bar.get_x() + bar.get_width() / 2, 0, "failed", ha="center", va="bottom", rotation=90)
        ax.set_title(label, fontsize=9)
        ax.set_xticks(range(len(peers)), peers, rotation=30, ha="right", fontsize=8)
    fig.suptitle("exai-mcp and its peers (medians; lower is better except calls/s)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write(results: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "peers.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "peers.md").write_text(markdown(results))
    plot(results, out / "peers.png")
