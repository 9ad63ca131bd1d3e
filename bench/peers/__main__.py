"""``python -m bench.peers`` (``make bench-peers``): this project beside FastMCP 4, FastMCP + Docket
and pal-mcp-server, one shared emulator, one lean client, peers alternating, in one run.

Every peer is started once and stays up; each round runs every scenario on every peer in turn,
so a drift of the shared machine touches all of them alike; the table holds the medians of the
rounds. Every scenario is bounded in time: a peer that fails one gets "failed: <why>" there, and
the run goes on. Then the TLS / distance scenario (``bench.peers.distance``) on a stack of its
own. Writes ``peers.json``, ``peers.md`` and ``peers.png`` to ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.__main__ import stack
from bench.peers import distance, report, scenarios
from bench.peers.servers import PEERS, Running
from bench.peers.venvs import missing
from tests.support.stack import Stack

START_TIMEOUT_S = 120.0
SETTLE_S = 1.0  # between scenarios: let the previous burst's tail work (acks, events) finish


@dataclass(frozen=True)
class Scenario:
    key: str
    run: Callable[[Running, int], Awaitable[dict[str, float]]]
    size: int
    quick_size: int
    timeout_s: float


SCENARIOS = (
    Scenario("latency", scenarios.latency, 200, 20, 120),
    Scenario("throughput", scenarios.throughput, 1000, 200, 240),
    Scenario("held_1000", scenarios.held, 1000, 100, 150),
    Scenario("held_2000", scenarios.held, 2000, 200, 240),
)


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no end within the scenario's time bound"
    return f"{type(exc).__name__}: {exc}"[:300]


async def _start(stack_: Stack, work: Path, names: set[str]) -> tuple[dict[str, Running], dict[str, str]]:
    running: dict[str, Running] = {}
    failed: dict[str, str] = {}
    for peer in PEERS:
        if peer.name not in names:
            continue
        try:
            started = await asyncio.wait_for(peer.start(stack_, work), START_TIMEOUT_S)
            running[peer.name] = started
            await asyncio.wait_for(scenarios.warm_up(started), START_TIMEOUT_S)
        except Exception as exc:
            failed[peer.name] = f"failed to start: {_why(exc)}"
        print(f"{peer.name}: {failed.get(peer.name, 'ready')}", flush=True)
    return running, failed


async def measure(
    stack_: Stack, work: Path, *, rounds: int, quick: bool, names: set[str]
) -> dict[str, dict[str, Any]]:
    """Per peer and scenario: the rounds' figures (a dict) or failures (a string)."""
    running, failed = await _start(stack_, work, names)
    rounds_seen: dict[str, dict[str, list[Any]]] = {name: {} for name in running}
    try:
        for round_number in range(1, rounds + 1):
            for scenario in SCENARIOS:
                size = scenario.quick_size if quick else scenario.size
                for name, peer in running.items():
                    try:
                        outcome: Any = await asyncio.wait_for(scenario.run(peer, size), scenario.timeout_s)
                    except Exception as exc:
                        outcome = f"failed: {_why(exc)}"
                        await asyncio.sleep(scenarios.HOLD_MS / 1000)  # let abandoned calls drain
                    rounds_seen[name].setdefault(scenario.key, []).append(outcome)
                    print(f"round {round_number} {scenario.key} ({size}) {name}: {outcome}", flush=True)
                    await asyncio.sleep(SETTLE_S)
    finally:
        for peer in running.values():
            await peer.stop()
    results: dict[str, dict[str, Any]] = {name: {"failed": why} for name, why in failed.items()}
    for name, seen in rounds_seen.items():
        results[name] = {key: _median(values) for key, values in seen.items()}
    return results


def _median(values: list[Any]) -> dict[str, Any] | str:
    """Each figure's median over the rounds that completed; "failed: …" if none did."""
    done = [v for v in values if isinstance(v, dict)]
    failures = [v for v in values if isinstance(v, str)]
    if not done:
        return failures[0]
    merged: dict[str, Any] = {k: round(statistics.median(v[k] for v in done), 3) for k in done[0]}
    if failures:
        merged["note"] = f"{len(failures)} of {len(values)} rounds {failures[0]}"
    return merged


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.peers")
    parser.add_argument("--out", default="docs/benchmarks")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    parser.add_argument("--peers", default=",".join(p.name for p in PEERS), help="comma list of peer names")
    parser.add_argument("--no-distance", action="store_true", help="skip the TLS / distance scenario")
    args = parser.parse_args()
    absent = missing()
    if absent:
        raise SystemExit("the peers' environments are missing: " + "; ".join(absent))
    names = set(args.peers.split(","))
    results: dict[str, Any] = {
        "machine": f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}",
        "command": " ".join(["python -m bench.peers", *sys.argv[1:]]),
        "rounds": args.rounds,
        "sizes": {s.key: s.quick_size if args.quick else s.size for s in SCENARIOS},
        "needs": {p.name: p.needs for p in PEERS if p.name in names},
    }
    with (
        tempfile.TemporaryDirectory(prefix="exai-peers-") as tmp,
        stack(EXAI_WORKER_CONCURRENCY="2500", EXAI_PROVIDER_READ_TIMEOUT_S="60") as s,
    ):
        results["peers"] = asyncio.run(
            measure(s, Path(tmp), rounds=args.rounds, quick=args.quick, names=names)
        )
    if not args.no_distance:
        results["distance"] = distance.measure(quick=args.quick)
        print("distance", results["distance"], flush=True)
    report.write(results, Path(args.out))


if __name__ == "__main__":
    main()
