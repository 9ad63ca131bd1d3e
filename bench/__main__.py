"""``python -m bench`` (``make bench``): start the real stack, measure, write docs/benchmarks/.

Every scenario drives real processes (Redis, emulator, gateway, worker) over loopback and is
bounded in count and time. ``--only`` picks scenarios; ``--quick`` shrinks them for a smoke run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import capacity, idle, overhead, redis_ops, report, scaling, streaming, throughput
from contracts.settings import Settings, load_settings
from tests.support.stack import Stack, running_stack

SCENARIOS = ("overhead", "redis_ops", "throughput", "capacity", "idle", "streaming", "scaling")
# Quiet logs, and the per-client and connection limits lifted: the benchmark is one client
# driving the stack as hard as several hundred would.
QUIET = {
    "LOG_LEVEL": "WARNING",
    "EXAI_CLIENT_MAX_IN_FLIGHT": "10000",
    "EXAI_CLIENT_CALLS_PER_MINUTE": "10000000",
    "EXAI_MAX_CONNECTIONS": "19000",
    "EXAI_MAX_CONNECTIONS_PER_IP": "19000",
}


def stack_settings(stack: Stack) -> Settings:
    saved = dict(os.environ)
    os.environ.update(stack.env)
    try:
        return load_settings()
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def stack(**env: str) -> Iterator[Stack]:
    settings: dict[str, Any] = {**QUIET, **env}
    with (
        tempfile.TemporaryDirectory(prefix="exai-bench-") as tmp,
        running_stack(Path(tmp), **settings) as s,
    ):
        yield s


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench")
    parser.add_argument("--out", default="docs/benchmarks")
    parser.add_argument("--only", default=",".join(SCENARIOS), help=f"comma list of {', '.join(SCENARIOS)}")
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    args = parser.parse_args()
    only = set(args.only.split(","))
    quick = args.quick
    results: dict[str, Any] = {
        "machine": f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}",
        "command": " ".join(["python -m bench", *sys.argv[1:]]),
    }
    if only & {"overhead", "redis_ops", "throughput", "streaming"}:
        with stack(EXAI_WORKER_CONCURRENCY="500") as s:
            if "overhead" in only:
                results["overhead"] = overhead.measure(
                    s, stack_settings(s), rounds=4 if quick else 20, block=20
                )
                print("overhead", results["overhead"], flush=True)
            if "redis_ops" in only:
                results["redis_ops"] = redis_ops.measure(s, 50 if quick else 200)
                print("redis_ops", results["redis_ops"], flush=True)
            if "throughput" in only:
                results["throughput"] = throughput.measure(s, (1, 10, 100), 200 if quick else 1000)
                print("throughput", results["throughput"], flush=True)
            if "streaming" in only:
                results["streaming"] = streaming.measure(s, 400 if quick else 2000, 200)
                print("streaming", results["streaming"], flush=True)
    if "capacity" in only:
        sizes = (100, 500) if quick else (100, 500, 1000, 2000)
        with stack(EXAI_WORKER_CONCURRENCY="2500", EXAI_PROVIDER_READ_TIMEOUT_S="60") as s:
            results["capacity"] = capacity.measure(s, sizes)
            print("capacity", results["capacity"], flush=True)
    if "idle" in only:
        with stack() as s:
            results["idle"] = idle.measure(s, 1000 if quick else 10_000)
            print("idle", results["idle"], flush=True)
    if "scaling" in only:
        results["scaling"] = scaling.measure(
            (1, 2) if quick else (1, 2, 4),
            100,
            300 if quick else 1500,
            {**QUIET, "EXAI_WORKER_CONCURRENCY": "500"},
        )
        print("scaling", results["scaling"], flush=True)
    out = Path(args.out)
    previous = out / "results.json"
    if only != set(SCENARIOS) and previous.exists():
        # A partial run updates its scenarios and keeps the others' latest figures.
        earlier = json.loads(previous.read_text())
        results = {**earlier, **results, "command": f"{earlier.get('command')}, then {results['command']}"}
    report.write(results, out)


if __name__ == "__main__":
    main()
