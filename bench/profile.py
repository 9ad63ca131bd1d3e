"""``python -m bench.profile``: py-spy on the worker and the gateway during a burst of held calls.

Starts the stack the capacity benchmark uses, records both processes with py-spy while N calls
(default 1,000) are held 2 s each, and prints the functions holding the largest share of the
samples, counted inclusively (a function's callees count towards it). This is how the figures in
docs/benchmarks/README.md were found. Needs py-spy (the ``bench`` extra) and ptrace rights.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from bench import capacity
from bench.__main__ import stack

# Threads parked in a pool or a selector are sampled too; they are waiting, not working.
IDLE = ("_worker (concurrent/futures/thread.py", "acquire_with_timeout", "EpollSelector.select")


def shares(raw: Path) -> tuple[int, Counter[str], Counter[str]]:
    """Samples of non-idle stacks; per function, the samples whose stack includes it, and those
    where it is the innermost frame."""
    total = 0
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or any(marker in stack for marker in IDLE):
            continue
        samples = int(count)
        total += samples
        frames = [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] += samples
        own[frames[-1]] += samples
    return total, inclusive, own


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.profile")
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    args = parser.parse_args()
    beside = Path(sys.executable).parent / "py-spy"  # the virtual environment's, off PATH
    py_spy = str(beside) if beside.exists() else shutil.which("py-spy")
    if py_spy is None:
        raise SystemExit("py-spy is not installed: pip install -e '.[bench]'")
    with (
        tempfile.TemporaryDirectory(prefix="exai-profile-") as tmp,
        stack(
            EXAI_WORKER_CONCURRENCY=str(max(2500, args.calls + 500)), EXAI_PROVIDER_READ_TIMEOUT_S="60"
        ) as s,
    ):
        asyncio.run(capacity.burst(s.authed_url, 20))  # warm up
        targets = {"worker": s.workers[0].pid, "gateway": s.gateway.pid if s.gateway else 0}
        spies = {
            name: subprocess.Popen(
                [
                    py_spy,
                    "record",
                    "-r",
                    str(args.rate),
                    "-d",
                    "30",
                    "--format",
                    "raw",
                    "--nonblocking",
                    "-o",
                    str(Path(tmp) / f"{name}.txt"),
                    "-p",
                    str(pid),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for name, pid in targets.items()
        }
        wall = asyncio.run(capacity.burst(s.authed_url, args.calls))
        for spy in spies.values():
            spy.send_signal(2)  # SIGINT: py-spy writes what it has and exits
            spy.wait(30)
        print(f"{args.calls} calls held {capacity.HOLD_MS / 1000:g} s: {wall:.2f} s wall")
        for name in targets:
            total, inclusive, own = shares(Path(tmp) / f"{name}.txt")
            for title, counts in (("including callees", inclusive), ("own time", own)):
                print(f"\n== {name}, {title} ({total} samples)")
                for frame, count in counts.most_common(args.top):
                    print(f"{100 * count / max(total, 1):5.1f}%  {frame}")


if __name__ == "__main__":
    main()
