"""``python -m bench.protocol_base`` (``make bench-protocol``): CPU and memory per call of two protocol cores.

(a) this project's own layer (the protocol core ``gateway/core`` over frames, in both eras, and
``gateway/transports/http.py`` over HTTP; until issue 11 it was ``gateway/session.py``, whose figures
are kept in ``docs/benchmarks/protocol_base-session.json``) and
(b) ``mcp`` 2.x's low-level server (its stdio transport over in-memory pipes, its in-memory
transport, its Streamable HTTP app under uvicorn), both handling ``tools/call`` and ``tools/list``
on the same fake backend (``bench/fake_broker.py``: no Redis, no Celery; each call's reply is
decoded and resolves its future from the event loop, as the gateway's reply listener does). The
``mcp`` 2.x half runs in ``.venv-mcp2`` (``make bench-venv-mcp2``) as subprocesses. Rounds
alternate between the two halves; each figure is the median round. Writes
``docs/benchmarks/protocol_base.json`` and prints the tables quoted in ``docs/architecture.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench import http_load, protocol_current
from bench.protocol_measure import backend_only, best_of

ROOT = Path(__file__).resolve().parent.parent
MCP2_PYTHON = ROOT / ".venv-mcp2" / "bin" / "python"
SUBPROCESS_TIMEOUT_S = 1800.0


def _env() -> dict[str, str]:
    # The checkout first on the path, so both halves import this worktree's bench/ and gateway/.
    return {**os.environ, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING"}


def mcp2_json(python: Path, *args: str) -> dict[str, Any]:
    """Run the mcp 2.x half with ``args``; its last stdout line is a JSON object."""
    done = subprocess.run(
        [str(python), "-m", "bench.protocol_mcp2", *args],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.protocol_mcp2 {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def mcp2_version(python: Path) -> str:
    code = "import importlib.metadata as m; print(m.version('mcp'), m.version('mcp-types'))"
    return subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


async def current_round(calls: int, concurrencies: list[int]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for concurrency in concurrencies:
        for era, version in (("legacy", "2025-11-25"), ("modern", "2026-07-28")):
            for method in ("tools/call", "tools/list"):
                out[f"current frames {version} {method} c={concurrency}"] = await protocol_current.measure(
                    method, calls, concurrency, era
                )
    return out


def in_process(args: argparse.Namespace, concurrencies: list[int]) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {}
    for _ in range(args.rounds):
        rounds = [asyncio.run(current_round(args.calls, concurrencies))]
        rounds.append(
            mcp2_json(
                args.mcp2_python,
                "--calls",
                str(args.calls),
                "--concurrency",
                args.concurrency,
                "--rounds",
                "1",
                "--parked",
                "0",
            )
        )
        for found in rounds:
            for name, run in found.items():
                runs.setdefault(name, []).append(run)
        print(
            f"in-process round {len(runs[next(iter(runs))])} of {args.rounds} done",
            file=sys.stderr,
            flush=True,
        )
    return {name: best_of(found) for name, found in runs.items()}


def parked(args: argparse.Namespace) -> dict[str, Any]:
    out = {
        "current parked 2025-11-25": asyncio.run(protocol_current.parked(args.parked)),
        "current parked 2026-07-28": asyncio.run(protocol_current.parked(args.parked, "modern")),
    }
    out.update(
        mcp2_json(
            args.mcp2_python,
            "--calls",
            "1",
            "--concurrency",
            "1",
            "--rounds",
            "0",
            "--parked",
            str(args.parked),
        )
    )
    return out


def over_http(args: argparse.Namespace) -> dict[str, Any]:
    servers = {
        "current http (aiohttp)": [sys.executable, "-m", "bench.protocol_base", "--serve-current-http"],
        "mcp2 http (starlette+uvicorn)": [str(args.mcp2_python), "-m", "bench.protocol_mcp2", "--serve-http"],
    }
    eras = {
        "current http (aiohttp)": [http_load.LEGACY, http_load.MODERN],
        "mcp2 http (starlette+uvicorn)": [http_load.LEGACY, http_load.MODERN],
    }
    runs: dict[str, list[dict[str, Any]]] = {}
    for _ in range(args.rounds):
        for name, command in servers.items():
            with http_load.server_process(command, _env()) as (pid, port):
                for era in eras[name]:
                    run = http_load.measure(pid, port, era, args.http_calls, args.http_concurrency)
                    runs.setdefault(f"{name} {era} tools/call c={args.http_concurrency}", []).append(run)
        print("HTTP round done", file=sys.stderr, flush=True)
    return {name: best_of(found) for name, found in runs.items()}


def table(results: dict[str, Any], prefix: str = "") -> str:
    rows = ["| run | CPU µs per call (median) | runs | calls/s |", "|---|---:|---|---:|"]
    for name, run in results.items():
        if name.startswith(prefix) and "cpu_us_per_call" in run:
            runs = ", ".join(str(r) for r in run.get("cpu_us_runs", []))
            rows.append(f"| {name} | {run['cpu_us_per_call']} | {runs} | {run.get('calls_per_s', '')} |")
    return "\n".join(rows)


def parked_table(results: dict[str, Any]) -> str:
    rows = [
        "| run | bytes per parked call | of which the backend | protocol layer | asyncio tasks per call |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, run in results.items():
        rows.append(
            f"| {name} | {run['bytes_per_call']} | {run['backend_bytes_per_call']} | "
            f"{run['protocol_bytes_per_call']} | {run['asyncio_tasks_per_call']} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.protocol_base")
    parser.add_argument("--calls", type=int, default=5000, help="requests per in-process run")
    parser.add_argument("--concurrency", default="1,100", help="requests in flight at a time, comma list")
    parser.add_argument("--parked", type=int, default=1000, help="calls held at once to weigh")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--http-calls", type=int, default=2000)
    parser.add_argument("--http-concurrency", type=int, default=10)
    parser.add_argument("--no-http", action="store_true", help="skip the Streamable HTTP runs")
    parser.add_argument("--quick", action="store_true", help="small counts, one round: a smoke run")
    parser.add_argument("--mcp2-python", type=Path, default=MCP2_PYTHON)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "protocol_base.json")
    parser.add_argument("--serve-current-http", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_current_http:
        asyncio.run(protocol_current.serve_http())
        return
    if not args.mcp2_python.exists():
        raise SystemExit(
            f"{args.mcp2_python} is missing: run `make bench-venv-mcp2` (mcp 2.x from PyPI) first"
        )
    if args.quick:
        args.calls, args.parked, args.rounds, args.http_calls = 300, 200, 1, 200
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    results: dict[str, Any] = {
        "machine": f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}",
        "command": " ".join(["python -m bench.protocol_base", *sys.argv[1:]]),
        "mcp2": mcp2_version(args.mcp2_python),
        "backend only": asyncio.run(backend_only(args.calls)),
    }
    results["in_process"] = in_process(args, concurrencies)
    results["parked"] = parked(args)
    if not args.no_http:
        results["http"] = over_http(args)
    results["probe"] = mcp2_json(args.mcp2_python, "--probe")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"backend alone: {results['backend only']['cpu_us_per_call']} µs CPU per call\n")
    print(table(results["in_process"]) + "\n")
    print(parked_table(results["parked"]) + "\n")
    if "http" in results:
        print(table(results["http"]) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
