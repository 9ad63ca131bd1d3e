"""Entry point of the ``exai`` command."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

from contracts.errors import ConfigError
from contracts.logs import configure_logging
from contracts.names import TOOL_QUEUE
from contracts.settings import Settings, load_settings


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        sys.stderr.write(f"exai: {exc.message}\n")
        raise SystemExit(2) from None


def cmd_gateway(args: argparse.Namespace) -> int:
    from gateway.server import run_gateway

    settings = _settings()
    configure_logging(settings.log_level, settings.exai_log_format)
    run_gateway(settings)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    settings = _settings()
    concurrency = args.concurrency or settings.exai_worker_concurrency
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "workers.main",
        "worker",
        "--pool",
        settings.exai_worker_pool,
        "--concurrency",
        str(concurrency),
        "--queues",
        args.queues or TOOL_QUEUE,
        "--hostname",
        f"exai-{os.getpid()}@%h",
        "--loglevel",
        settings.log_level,
        "--task-events",
        "--without-mingle",
        "--without-gossip",
    ]
    # Celery patches gevent in before anything else is imported only when it owns the process.
    os.execv(sys.executable, argv)


def cmd_emulator(args: argparse.Namespace) -> int:
    argv = [
        sys.executable,
        "-m",
        "emulator",
        "--host",
        args.host,
        "--port",
        str(args.port),
        "--latency-ms",
        str(args.latency_ms),
        "--tokens-per-second",
        str(args.tokens_per_second),
    ]
    os.execv(sys.executable, argv)


def cmd_up(args: argparse.Namespace) -> int:
    from cli.stack import run_stack

    settings = _settings()
    configure_logging(settings.log_level, settings.exai_log_format)
    return run_stack(
        settings, workers=args.workers, state_dir=Path(args.state_dir) if args.state_dir else None
    )


def cmd_call(args: argparse.Namespace) -> int:
    from cli.call import call_tool, parse_arguments, render

    settings = _settings()
    url = (
        args.url or os.environ.get("EXAI_WS_URL") or f"ws://{settings.exai_ws_host}:{settings.exai_ws_port}/"
    )
    token = settings.exai_ws_token.get_secret_value() if settings.exai_ws_token else None
    try:
        arguments = parse_arguments(args.arguments, args.json)
    except ValueError as exc:
        sys.stderr.write(f"exai call: {exc}\n")
        return 2
    try:
        result = asyncio.run(
            call_tool(
                url,
                token,
                args.tool,
                arguments,
                timeout=args.timeout or settings.exai_call_timeout_s + 30,
                quiet=args.quiet,
            )
        )
    except (OSError, RuntimeError, TimeoutError) as exc:
        sys.stderr.write(f"exai call: {exc}\n")
        return 1
    if args.raw:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        print(render(result))
    return 1 if result.get("isError") else 0


def cmd_config(args: argparse.Namespace) -> int:
    settings = _settings()
    if not args.check:
        print(json.dumps(settings.public_view(), indent=2, default=str))
    else:
        sys.stderr.write("configuration is valid\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="exai", description="MCP server for Kimi and GLM on Celery and Redis"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser(
        "up", help="run the whole stack locally (Redis, emulator if no keys, worker, gateway)"
    )
    up.add_argument("--workers", type=int, default=1, help="worker processes to start (default 1)")
    up.add_argument("--state-dir", help="where the private Redis keeps its data (default: a temp dir)")
    up.set_defaults(func=cmd_up)

    sub.add_parser("gateway", help="run the MCP WebSocket gateway").set_defaults(func=cmd_gateway)

    worker = sub.add_parser("worker", help="run a Celery worker for the tools")
    worker.add_argument(
        "--concurrency", type=int, help="calls held at once (default EXAI_WORKER_CONCURRENCY)"
    )
    worker.add_argument("--queues", help=f"queues to consume (default {TOOL_QUEUE})")
    worker.set_defaults(func=cmd_worker)

    emu = sub.add_parser("emulator", help="run the Kimi/GLM provider emulator")
    emu.add_argument("--host", default="127.0.0.1")
    emu.add_argument("--port", type=int, default=8090)
    emu.add_argument("--latency-ms", type=float, default=0.0)
    emu.add_argument("--tokens-per-second", type=float, default=0.0)
    emu.set_defaults(func=cmd_emulator)

    call = sub.add_parser("call", help="call a tool and print its result")
    call.add_argument("tool")
    call.add_argument("arguments", nargs="*", help="key=value (value parsed as JSON when it is JSON)")
    call.add_argument("--json", help="arguments as one JSON object")
    call.add_argument("--url", help="gateway URL (default EXAI_WS_URL or ws://EXAI_WS_HOST:EXAI_WS_PORT/)")
    call.add_argument("--timeout", type=float, help="seconds to wait (default EXAI_CALL_TIMEOUT_S + 30)")
    call.add_argument("--raw", action="store_true", help="print the whole MCP result as JSON")
    call.add_argument("--quiet", action="store_true", help="no progress on stderr")
    call.set_defaults(func=cmd_call)

    config = sub.add_parser("config", help="print the effective configuration (secrets masked)")
    config.add_argument(
        "--check", action="store_true", help="only validate; exit 2 with a message if invalid"
    )
    config.set_defaults(func=cmd_config)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
