"""``python -m emulator``: serve the emulated Kimi and GLM APIs until interrupted."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from emulator.server import DEFAULT_HOST, DEFAULT_PORT, ServeOptions, run


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text}")
    return value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="emulator", description="Emulated Kimi and GLM chat APIs.")
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to bind, 0 for a free one")
    parser.add_argument(
        "--latency-ms", type=_non_negative, default=0.0, help="delay before the first byte of every reply"
    )
    parser.add_argument(
        "--tokens-per-second", type=_non_negative, default=0.0, help="pace of reply tokens (0: no pacing)"
    )
    parser.add_argument(
        "--tls", action="store_true", help="serve HTTPS with a certificate signed by a CA made at start"
    )
    parser.add_argument(
        "--ca-file",
        type=Path,
        help="with --tls: write the CA certificate (PEM) here (default: a temporary file; printed)",
    )
    parser.add_argument(
        "--rtt-ms",
        type=_non_negative,
        default=0.0,
        help="simulated network round trip: every chunk is delayed by half of it each way, and a new "
        "connection's first bytes by one more round trip (the TCP handshake); see emulator.relay",
    )
    args = parser.parse_args(argv)
    if args.ca_file is not None and not args.tls:
        parser.error("--ca-file needs --tls")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    options = ServeOptions(args.host, args.port, tls=args.tls, ca_file=args.ca_file, rtt_ms=args.rtt_ms)
    run(args.host, args.port, args.latency_ms, args.tokens_per_second, options)


if __name__ == "__main__":
    main()
