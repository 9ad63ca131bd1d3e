"""Results on disk: JSON for machines, Markdown for people, PNG plots for both."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write(results: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "results.md").write_text(markdown(results))
    plots(results, out)


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(row[k]) for k in keys) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def markdown(results: dict[str, Any]) -> str:
    parts = [f"# Benchmark results\n\nMachine: {results['machine']}. Command: `{results['command']}`.\n"]
    if "overhead" in results:
        o = results["overhead"]
        paths = ("mcp_tools_call", "raw_celery", "celery_same_tool", "direct_in_process")
        rows = [{"path": name, **o[name]} for name in paths if name in o]
        parts.append(
            "## 1. Overhead per call (0 ms emulator)\n\n"
            + _table(rows)
            + f"\nMCP / raw Celery: p50 **{o['ratio_p50']}x**, p99 **{o['ratio_p99']}x** "
            f"(goal {o['goal']}: {'met' if o['met'] else 'NOT met'}). `celery_same_tool` sends the chat "
            "tool's own Celery task without the MCP front; `direct_in_process` runs its code in-process.\n"
        )
    if "redis_ops" in results:
        r = results["redis_ops"]
        parts.append(
            "## Redis commands per call\n\n"
            f"MCP tools/call: **{r['mcp_total_per_call']}** commands; raw Celery round trip: "
            f"**{r['raw_celery_total_per_call']}**.\n\n"
            + _table(
                [
                    {"command": k, "mcp": v, "raw_celery": r["raw_celery_by_command"].get(k, 0)}
                    for k, v in r["mcp_by_command"].items()
                ]
            )
        )
    if "throughput" in results:
        parts.append(
            "## 2. Throughput of small calls, one gateway\n\n"
            + _table(results["throughput"])
            + "\nGoal: MCP ≥ 80 % of raw Celery's tasks/s.\n"
        )
    if "capacity" in results:
        parts.append(
            "## 3. In-flight capacity (each call held 2 s), one gateway, one worker process\n\n"
            + _table(results["capacity"])
            + "\nGoal at 1,000: wall ≤ 5 s (stretch 3 s), "
            "worker RSS ≤ 400 MB.\n\n![capacity](capacity.png)\n"
        )
    if "idle" in results:
        parts.append(
            "## 4. Idle connections\n\n"
            + _table([results["idle"]])
            + "\nGoal: ≤ 50 KB of gateway RSS per connection, ping unaffected.\n"
        )
    if "streaming" in results:
        parts.append(
            "## 5. Streaming progress lag\n\n"
            + _table([results["streaming"]])
            + "\nGoal: median lag ≤ 50 ms.\n"
        )
    if "scaling" in results:
        parts.append(
            "## 6. Scaling with worker processes\n\n"
            + _table(results["scaling"])
            + "\n![scaling](scaling.png)\n"
        )
    return "\n".join(parts)


def plots(results: dict[str, Any], out: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # plots are optional; the tables carry the figures
        return
    if "capacity" in results:
        rows = results["capacity"]
        fig, left = plt.subplots(figsize=(6, 3.5))
        left.plot([r["calls"] for r in rows], [r["wall_s"] for r in rows], "o-", label="wall time (s)")
        left.axhline(2.0, color="grey", linestyle=":", label="2 s hold")
        left.set_xlabel("concurrent calls")
        left.set_ylabel("seconds")
        right = left.twinx()
        right.plot(
            [r["calls"] for r in rows],
            [r["worker_peak_rss_mb"] for r in rows],
            "s--",
            color="tab:red",
            label="worker RSS (MB)",
        )
        right.set_ylabel("MB")
        fig.legend(loc="upper left")
        fig.tight_layout()
        fig.savefig(out / "capacity.png", dpi=110)
        plt.close(fig)
    if "scaling" in results:
        rows = results["scaling"]
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.plot([r["workers"] for r in rows], [r["calls_per_s"] for r in rows], "o-", label="small calls")
        held = [k for k in rows[0] if k.startswith("held_") and k.endswith("_calls_per_s")]
        if held:
            ax.plot(
                [r["workers"] for r in rows],
                [r[held[0]] for r in rows],
                "s--",
                label="held 100 ms, 10 slots each",
            )
            ax.legend()
        ax.set_xlabel("worker processes")
        ax.set_ylabel("calls / s")
        fig.tight_layout()
        fig.savefig(out / "scaling.png", dpi=110)
        plt.close(fig)
