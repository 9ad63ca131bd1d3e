"""One step of the ``mcp`` 2.3 client matrix against a running stack; prints a JSON report on stdout.

Run with ``.venv-mcp2/bin/python`` from the repository root (``tests/e2e/test_clients_mcp2.py``
does), e.g.::

    python -m tests.support.mcp2_client.scenario --front http --mode 2026-07-28 \\
        --target http://127.0.0.1:8078/mcp --token "$EXAI_WS_TOKEN" --step list-call-progress

Fronts: ``http`` (Streamable HTTP, ``--target`` is the ``/mcp`` URL), ``ws`` (the WebSocket test
transport, ``--target`` is the ``ws://`` URL), ``stdio`` (``exai stdio`` launched with
``--server-python``; the bridge reads the gateway URL and token from the environment). Modes are
``mcp.Client``'s: ``2026-07-28``, ``auto`` and ``legacy``. Steps:

* ``list-call-progress``: ``tools/list``, then a streaming ``chat`` call with a progress callback;
* ``cancel``: a long ``chat`` call cancelled (the client abandons it: ``notifications/cancelled``
  on a stream, the POST closed on modern HTTP) once the provider streams; then another request
  on the same client. With ``--hold`` the client stays open after the report until stdin closes,
  so the caller can watch the server stop the call;
* ``task``: ``slow_compute`` with the tasks extension advertised (``tasks_extension.py``), to a
  completed task.

Every failure is reported, not raised: ``{"ok": false, "error": ..., "stage": ...}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp_types
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from tests.support.mcp2_client.tasks_extension import TasksExtension
from tests.support.mcp2_client.websocket_transport import websocket_transport

REPO = Path(__file__).resolve().parents[3]
WAIT = 30.0  # upper bound of each request and of each wait below
CHAT_PROMPT = "mcp2 matrix emulate:tokens=40 emulate:tokens_per_second=40"
LONG_PROMPT = "mcp2 cancel me emulate:tokens=600 emulate:tokens_per_second=20"  # ~30 s if not stopped
STREAMING = "chunks streamed"  # the worker's progress message once the provider streams


def transport_for(args: argparse.Namespace, stack: AsyncExitStack) -> Any:
    if args.front == "http":
        headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
        http = httpx2.AsyncClient(headers=headers, timeout=WAIT)
        stack.push_async_callback(http.aclose)
        return streamable_http_client(args.target, http_client=http)
    if args.front == "ws":
        return websocket_transport(args.target, args.token)
    return StdioServerParameters(
        command=args.server_python, args=["-m", "cli.main", "stdio"], env=dict(os.environ), cwd=str(REPO)
    )


@asynccontextmanager
async def connected(args: argparse.Namespace, extensions: list[Any] | None = None) -> AsyncIterator[Client]:
    async with AsyncExitStack() as stack:
        client = Client(
            transport_for(args, stack),
            mode=args.mode,
            read_timeout_seconds=WAIT,
            client_info=mcp_types.Implementation(name="exai-mcp2-matrix", version="1"),
            extensions=extensions,
        )
        # Bounded by read_timeout_seconds: a cancel scope around entering would not nest with the
        # task groups the client opens for its lifetime.
        await stack.enter_async_context(client)
        yield client


async def describe(client: Client, mode: str) -> dict[str, Any]:
    advertised = client.server_capabilities
    if mode not in ("legacy", "auto"):
        # mode=<version> adopts that version without asking the server (mcp 2.3 synthesizes an
        # empty DiscoverResult): ask it once, so the report says what the server advertises.
        raw = await client.session.send_discover(client.protocol_version)
        advertised = mcp_types.DiscoverResult.model_validate(raw, by_name=False).capabilities
    capabilities = advertised.model_dump(by_alias=True, exclude_none=True, mode="json")
    info = client.server_info
    server = info.name if info else None
    return {"protocol_version": client.protocol_version, "server": server, "capabilities": capabilities}


def result_report(result: mcp_types.CallToolResult) -> dict[str, Any]:
    texts = [block.text for block in result.content if isinstance(block, mcp_types.TextContent)]
    return {"is_error": result.is_error, "text": "\n".join(texts), "structured": result.structured_content}


async def list_call_progress(args: argparse.Namespace, report: dict[str, Any]) -> None:
    seen: list[dict[str, Any]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append({"progress": progress, "total": total, "message": message})

    async with connected(args) as client:
        report.update(await describe(client, args.mode))
        report["stage"] = "tools/list"
        listing = await client.list_tools()
        report["tools"] = [tool.name for tool in listing.tools]
        report["stage"] = "tools/call"
        with anyio.fail_after(WAIT):
            result = await client.call_tool("chat", {"prompt": CHAT_PROMPT}, progress_callback=on_progress)
        report["call"] = result_report(result)
        report["progress"] = seen


async def cancel(args: argparse.Namespace, report: dict[str, Any]) -> None:
    streaming = anyio.Event()
    seen: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)
        if STREAMING in (message or ""):
            streaming.set()

    async with connected(args) as client:
        report.update(await describe(client, args.mode))
        report["stage"] = "tools/call (to cancel)"
        answered: dict[str, Any] = {}

        async def long_call() -> None:
            result = await client.call_tool("chat", {"prompt": LONG_PROMPT}, progress_callback=on_progress)
            answered["result"] = result_report(result)

        async with anyio.create_task_group() as group:
            group.start_soon(long_call)
            with anyio.fail_after(WAIT):
                await streaming.wait()
            report["cancelled_at"] = time.time()
            group.cancel_scope.cancel()  # the client abandons the request: its way to cancel it
        report["answered_anyway"] = answered.get("result")
        report["progress_before_cancel"] = len(seen)
        report["stage"] = "tools/list after the cancel"
        with anyio.fail_after(WAIT):
            after = await client.list_tools(cache_mode="bypass")
        report["usable_after_cancel"] = bool(after.tools)
        if args.hold:
            print(json.dumps({**report, "ok": True}), flush=True)
            report["held"] = True
            await anyio.to_thread.run_sync(sys.stdin.read)  # until the caller closes our stdin


async def task(args: argparse.Namespace, report: dict[str, Any]) -> None:
    tasks = TasksExtension()
    async with connected(args, extensions=[tasks]) as client:
        report.update(await describe(client, args.mode))
        report["stage"] = "tools/call slow_compute"
        with anyio.fail_after(2 * WAIT):
            result = await client.call_tool("slow_compute", {"seconds": 2, "label": "mcp2-matrix"})
        created = tasks.created
        report["created"] = [c.model_dump(by_alias=True, exclude_none=True, mode="json") for c in created]
        report["statuses"] = tasks.statuses
        report["call"] = result_report(result)


def innermost(exc: BaseException) -> str:
    """The first leaf of an exception group (the task groups of the client nest them), as text."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"


STEPS = {"list-call-progress": list_call_progress, "cancel": cancel, "task": task}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {"front": args.front, "mode": args.mode, "step": args.step, "stage": "connect"}
    try:
        await STEPS[args.step](args, report)
    except BaseException as exc:  # the report is the product: every failure goes into it
        if isinstance(exc, KeyboardInterrupt):
            raise
        report.update(ok=False, error=innermost(exc), traceback=traceback.format_exc()[-4000:])
        return report
    report["ok"] = True
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="one step of the mcp 2.3 client matrix")
    parser.add_argument("--front", choices=["http", "ws", "stdio"], required=True)
    parser.add_argument("--mode", required=True, help="2026-07-28, auto or legacy")
    parser.add_argument("--step", choices=sorted(STEPS), required=True)
    parser.add_argument("--target", default="", help="the /mcp URL (http) or ws:// URL (ws)")
    parser.add_argument("--token", default=os.environ.get("EXAI_WS_TOKEN", ""))
    parser.add_argument("--server-python", default=sys.executable, help="the python that runs `exai stdio`")
    parser.add_argument("--hold", action="store_true", help="cancel: stay connected until stdin closes")
    args = parser.parse_args(argv)
    report = anyio.run(run, args)
    if not report.get("held"):
        print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
