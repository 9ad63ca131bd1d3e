"""Entry point of the ``exai`` command."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from contracts.errors import ConfigError
from contracts.logs import configure_logging
from contracts.names import TOOL_QUEUE
from contracts.settings import Settings, load_settings


def _settings(env_file: str | None = None) -> Settings:
    try:
        return load_settings(_env_file=env_file) if env_file else load_settings()
    except ConfigError as exc:
        sys.stderr.write(f"exai: {exc.message}\n")
        raise SystemExit(2) from None


def cmd_gateway(args: argparse.Namespace) -> int:
    from contracts import tracing
    from gateway.server import run_gateway

    settings = _settings()
    configure_logging(settings.log_level, settings.exai_log_format)
    tracing.setup(settings, "exai-gateway")
    try:
        run_gateway(settings)
    except ConfigError as exc:  # the local token file is unsafe or cannot be written
        sys.stderr.write(f"exai gateway: {exc.message}\n")
        return 2
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from contracts.packs import import_packs

    settings = _settings()
    try:  # a pack that cannot load is said in one line here, not in Celery's traceback
        import_packs(settings.tool_pack_modules())
    except ConfigError as exc:
        sys.stderr.write(f"exai worker: {exc.message}\n")
        return 2
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
        "--rtt-ms",
        str(args.rtt_ms),
    ]
    if args.tls:
        argv.append("--tls")
    if args.ca_file:
        argv.extend(["--ca-file", args.ca_file])
    os.execv(sys.executable, argv)


def cmd_monitor(args: argparse.Namespace) -> int:
    from monitoring.server import run_monitor

    settings = _settings()
    configure_logging(settings.log_level, settings.exai_log_format)
    try:
        run_monitor(settings)
    except ConfigError as exc:
        sys.stderr.write(f"exai monitor: {exc.message}\n")
        return 2
    return 0


def cmd_flower(args: argparse.Namespace) -> int:
    from monitoring.sidecars import flower_command

    return _exec_sidecar("flower", flower_command)


def cmd_exporter(args: argparse.Namespace) -> int:
    from monitoring.sidecars import exporter_command

    return _exec_sidecar("exporter", exporter_command)


def _exec_sidecar(name: str, command: Callable[[Settings], tuple[list[str], dict[str, str]]]) -> int:
    try:
        argv, env = command(_settings())
    except ConfigError as exc:
        sys.stderr.write(f"exai {name}: {exc.message}\n")
        return 2
    # Both write their logs to stdout; the service's logs go to stderr.
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    os.execve(argv[0], argv, {**os.environ, **env})


def cmd_up(args: argparse.Namespace) -> int:
    from cli.stack import run_stack

    settings = _settings()
    configure_logging(settings.log_level, settings.exai_log_format)
    return run_stack(
        settings, workers=args.workers, state_dir=Path(args.state_dir) if args.state_dir else None
    )


def cmd_call(args: argparse.Namespace) -> int:
    from cli.call import ProgressLine, TextStream, call_tool, parse_arguments, render

    settings = _settings()
    url = gateway_url(settings, args.url)
    try:
        token = settings.client_token(url)
        arguments = parse_arguments(args.arguments, args.json)
    except ConfigError as exc:
        sys.stderr.write(f"exai call: {exc.message}\n")
        return 2
    except ValueError as exc:
        sys.stderr.write(f"exai call: {exc}\n")
        return 2
    if args.task:
        return _start_task(settings, url, token, args, arguments)
    streamed = None if args.raw else TextStream()
    try:
        result = asyncio.run(
            call_tool(
                url,
                token,
                args.tool,
                arguments,
                timeout=args.timeout or settings.exai_call_timeout_s + 30,
                quiet=args.quiet,
                progress=ProgressLine(every_s=settings.exai_progress_interval_s),
                text=streamed,
            )
        )
    except (OSError, RuntimeError, TimeoutError) as exc:
        sys.stderr.write(f"exai call: {exc}\n")
        return 1
    if args.raw:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        rest = streamed.remainder(render(result)) if streamed else None
        print(render(result) if rest is None else rest)
    return 1 if result.get("isError") else 0


def _start_task(
    settings: Settings, url: str, token: str | None, args: argparse.Namespace, arguments: dict[str, object]
) -> int:
    from cli.tasks import start_task

    try:
        task = asyncio.run(
            start_task(url, token, args.tool, dict(arguments), ttl_s=args.ttl, timeout=args.timeout or 30.0)
        )
    except (OSError, RuntimeError, TimeoutError) as exc:
        sys.stderr.write(f"exai call: {exc}\n")
        return 1
    print(json.dumps(task, indent=2) if args.raw else task["taskId"])
    if not args.quiet:
        sys.stderr.write(f"started as a task; fetch it with: exai task result {task['taskId']}\n")
    return 0


def cmd_task(args: argparse.Namespace) -> int:
    from cli.tasks import render_task, task_action

    settings = _settings()
    timeout = args.timeout or (settings.exai_call_timeout_s + 30 if args.action == "result" else 30.0)
    try:
        url = gateway_url(settings, args.url)
        token = settings.client_token(url)
        answer = asyncio.run(task_action(url, token, args.action, args.id, timeout=timeout))
    except ConfigError as exc:
        sys.stderr.write(f"exai task: {exc.message}\n")
        return 2
    except ValueError as exc:
        sys.stderr.write(f"exai task: {exc}\n")
        return 2
    except (OSError, RuntimeError, TimeoutError) as exc:
        sys.stderr.write(f"exai task: {exc}\n")
        return 1
    if args.raw:
        print(json.dumps(answer, indent=2, ensure_ascii=False))
    elif args.action == "result":
        from cli.call import render

        print(render(answer))
    elif args.action == "list":
        for task in answer["tasks"]:
            print(render_task(task))
    else:
        print(render_task(answer))
    return 1 if answer.get("isError") or answer.get("status") == "failed" else 0


def gateway_url(settings: Settings, given: str | None) -> str:
    """``--url``, else ``EXAI_WS_URL``, else the local gateway's address."""
    return given or settings.exai_ws_url or f"ws://{settings.exai_ws_host}:{settings.exai_ws_port}/"


def cmd_stdio(args: argparse.Namespace) -> int:
    from bridge.stdio import claim_stdout, run_stdio

    protocol_out = claim_stdout()  # before anything can print: stdout carries protocol only
    settings = _settings()
    configure_logging(settings.log_level, settings.exai_log_format)
    return run_stdio(settings, gateway_url(settings, args.url), protocol_out)


def cmd_config(args: argparse.Namespace) -> int:
    if args.matrix:
        from cli.config_matrix import render

        sys.stdout.write(render())  # documents every setting; needs no valid environment
        return 0
    if args.env_file and not Path(args.env_file).is_file():
        sys.stderr.write(f"exai: no such file: {args.env_file}\n")
        return 2
    settings = _settings(args.env_file)
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
    sub.add_parser(
        "monitor", help="run the health, metrics and dashboard servers (one process)"
    ).set_defaults(func=cmd_monitor)
    sub.add_parser(
        "flower", help="run Flower behind basic auth (EXAI_FLOWER_USER / EXAI_FLOWER_PASSWORD)"
    ).set_defaults(func=cmd_flower)
    sub.add_parser(
        "exporter", help="run celery-exporter from its own environment (.venv-exporter)"
    ).set_defaults(func=cmd_exporter)

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
    emu.add_argument("--tls", action="store_true", help="serve HTTPS with a CA generated at start")
    emu.add_argument("--ca-file", help="with --tls: where to write the CA certificate (PEM)")
    emu.add_argument("--rtt-ms", type=float, default=0.0, help="simulated network round trip")
    emu.set_defaults(func=cmd_emulator)

    call = sub.add_parser("call", help="call a tool and print its result")
    call.add_argument("tool")
    call.add_argument("arguments", nargs="*", help="key=value (value parsed as JSON when it is JSON)")
    call.add_argument("--json", help="arguments as one JSON object")
    call.add_argument("--url", help="gateway URL (default EXAI_WS_URL or ws://EXAI_WS_HOST:EXAI_WS_PORT/)")
    call.add_argument("--timeout", type=float, help="seconds to wait (default EXAI_CALL_TIMEOUT_S + 30)")
    call.add_argument("--raw", action="store_true", help="print the whole MCP result as JSON")
    call.add_argument("--quiet", action="store_true", help="no progress on stderr")
    call.add_argument("--task", action="store_true", help="start the call as an MCP task and print its id")
    call.add_argument("--ttl", type=float, help="with --task: seconds to keep it (default EXAI_RESULT_TTL_S)")
    call.set_defaults(func=cmd_call)

    task = sub.add_parser("task", help="look at, wait for or cancel a task started with `exai call --task`")
    task.add_argument("action", choices=["get", "result", "cancel", "list"])
    task.add_argument("id", nargs="?", help="the task id (not for list)")
    task.add_argument("--url", help="gateway URL (default EXAI_WS_URL or ws://EXAI_WS_HOST:EXAI_WS_PORT/)")
    task.add_argument("--timeout", type=float, help="seconds to wait (result: EXAI_CALL_TIMEOUT_S + 30)")
    task.add_argument("--raw", action="store_true", help="print the whole answer as JSON")
    task.set_defaults(func=cmd_task)

    stdio = sub.add_parser("stdio", help="an MCP stdio server that forwards to the gateway")
    stdio.add_argument("--url", help="gateway URL (default EXAI_WS_URL or ws://EXAI_WS_HOST:EXAI_WS_PORT/)")
    stdio.set_defaults(func=cmd_stdio)

    config = sub.add_parser("config", help="print the effective configuration (secrets masked)")
    config.add_argument(
        "--check", action="store_true", help="only validate; exit 2 with a message if invalid"
    )
    config.add_argument(
        "--matrix", action="store_true", help="print the configuration matrix (docs/configuration.md)"
    )
    config.add_argument(
        "--env-file", help="also read this file, e.g. deploy/profiles/prod.env (the environment wins)"
    )
    config.set_defaults(func=cmd_config)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
