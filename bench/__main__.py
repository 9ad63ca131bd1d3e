"""``python -m bench`` (``make bench``): start the stack, measure, write docs/benchmarks/."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from bench import pipeline
from tests.support.stack import running_stack


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench")
    parser.add_argument("--out", default="docs/benchmarks", help="where results are written")
    parser.add_argument("--rounds", type=int, default=20, help="alternating latency blocks")
    parser.add_argument("--block", type=int, default=20, help="calls per block")
    parser.add_argument("--total", type=int, default=1000, help="calls in the throughput run")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="exai-bench-") as tmp,
        running_stack(Path(tmp), LOG_LEVEL="WARNING", EXAI_WORKER_CONCURRENCY="200") as stack,
    ):
        results = pipeline.run(stack, Path(args.out), rounds=args.rounds, block=args.block, total=args.total)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
