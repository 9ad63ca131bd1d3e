"""A FastMCP 4 server with a ``chat`` tool that calls the provider emulator as exai-mcp's worker does.

Runs in its own environment (``.venv-bench/fastmcp``, made by ``make bench-peers``), never in the
project's: ``.venv-bench/fastmcp/bin/python bench/peers/fastmcp_server.py --emulator URL ...``.

The request body is the worker's for a plain ``chat`` call (``chat_body.py``), streamed, and the
answer assembled from the server-sent chunks. One kept-alive HTTP client serves every call, as a
FastMCP user would write it.

``--tasks REDIS_URL`` makes ``chat`` a Docket background task (``fastmcp[tasks]``): the server
process runs the Docket worker, on that Redis, with ``--concurrency`` slots. redis-py's asyncio
pool allows 100 connections by default, fewer than 100 concurrent tasks need, so the URL gets
``max_connections`` (``--redis-connections``).
"""

from __future__ import annotations

import argparse
import json

import httpx2 as httpx  # what fastmcp 4 brings along
from chat_body import MODEL, chat_body  # beside this file: run as a script, not from the package
from fastmcp import FastMCP


def build(emulator: str, *, tasks: str | None, concurrency: int, redis_connections: int) -> FastMCP:
    mcp = FastMCP("bench-fastmcp")
    http = httpx.AsyncClient(
        base_url=f"{emulator}/v1",
        headers={"Authorization": "Bearer bench-not-a-secret"},
        timeout=httpx.Timeout(120, connect=10),
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=2000),
    )

    async def chat(prompt: str, model: str = MODEL) -> str:
        """Ask the model one question."""
        pieces: list[str] = []
        async with http.stream("POST", "/chat/completions", json=chat_body(prompt, model)) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                data = line.removeprefix("data: ")
                if not line.startswith("data: ") or data == "[DONE]":
                    continue
                choices = json.loads(data).get("choices") or [{}]
                content = (choices[0].get("delta") or {}).get("content")
                if content:
                    pieces.append(content)
        return "".join(pieces)

    if tasks is None:
        mcp.tool(chat)
    else:
        from fastmcp_tasks import TasksExtension

        separator = "&" if "?" in tasks else "?"
        url = f"{tasks}{separator}max_connections={redis_connections}" if redis_connections else tasks
        mcp.add_extension(
            TasksExtension(
                url=url,
                name="bench",
                concurrency=concurrency,
            )
        )
        mcp.tool(chat, task=True)
    return mcp


def main() -> None:
    parser = argparse.ArgumentParser(prog="fastmcp_server")
    parser.add_argument("--emulator", required=True, help="the emulator's base URL")
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tasks", metavar="REDIS_URL", help="run chat as a Docket task on this Redis")
    parser.add_argument("--concurrency", type=int, default=2500, help="Docket worker slots")
    parser.add_argument(
        "--redis-connections", type=int, default=4000, help="redis-py pool size (0: its default, 100)"
    )
    args = parser.parse_args()
    mcp = build(
        args.emulator,
        tasks=args.tasks,
        concurrency=args.concurrency,
        redis_connections=args.redis_connections,
    )
    if args.transport == "stdio":
        mcp.run(transport="stdio", show_banner=False)
    else:
        mcp.run(transport="http", host="127.0.0.1", port=args.port, show_banner=False, log_level="warning")


if __name__ == "__main__":
    main()
