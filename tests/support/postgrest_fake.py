"""A PostgREST-compatible HTTP fake (the part of Supabase's REST API the worker uses), on loopback.

Run ``python -m tests.support.postgrest_fake --port 0 --key KEY``; it prints
``postgrest fake listening on http://HOST:PORT``. It serves ``/rest/v1/<table>``: ``POST`` inserts
(upserts with ``Prefer: resolution=merge-duplicates`` and ``on_conflict``), ``GET`` filters with
``col=eq.value``, ``order=col.asc|desc`` and ``limit``. Requests without the key (``apikey`` header
and bearer token) get 401. Controls: ``POST /_fake/outage {"down": bool}`` answers 503 to every REST
call while down; ``GET /_fake/requests`` lists every REST request received (method, path, query,
``Prefer`` header, body); ``GET /_fake/tables`` shows the stored rows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from typing import Any

from aiohttp import web

STATE = web.AppKey("state", dict)


def _error(status: int, message: str, code: str) -> web.Response:
    return web.json_response({"code": code, "details": None, "hint": None, "message": message}, status=status)


def _matches(row: dict[str, Any], query: Any) -> bool:
    for column, condition in query.items():
        if column in ("select", "order", "limit", "on_conflict", "offset"):
            continue
        op, _, value = condition.partition(".")
        if op != "eq":
            raise ValueError(f"operator {op!r} is not supported by the fake")
        if str(row.get(column)) != value:
            return False
    return True


async def _rest(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    table = request.match_info["table"]
    body_text = await request.text()
    state["requests"].append(
        {
            "method": request.method,
            "path": request.path,
            "query": dict(request.query),
            "prefer": request.headers.get("Prefer"),
            "body": json.loads(body_text) if body_text else None,
        }
    )
    key = state["key"]
    if request.headers.get("apikey") != key or request.headers.get("Authorization") != f"Bearer {key}":
        return _error(401, "Invalid API key", "PGRST301")
    if state["down"]:
        return _error(503, "Service Unavailable", "PGRST000")
    rows: list[dict[str, Any]] = state["tables"].setdefault(table, [])
    if request.method == "GET":
        try:
            found = [r for r in rows if _matches(r, request.query)]
        except ValueError as exc:
            return _error(400, str(exc), "PGRST100")
        order = request.query.get("order")
        if order:
            column, _, direction = order.partition(".")
            found.sort(key=lambda r: r.get(column) or 0, reverse=direction.startswith("desc"))
        if "limit" in request.query:
            found = found[: int(request.query["limit"])]
        return web.json_response(found)
    incoming = json.loads(body_text)
    incoming = incoming if isinstance(incoming, list) else [incoming]
    prefer = request.headers.get("Prefer", "")
    conflict = request.query.get("on_conflict")
    for row in incoming:
        existing = next((r for r in rows if conflict and r.get(conflict) == row.get(conflict)), None)
        if existing is not None and "resolution=merge-duplicates" not in prefer:
            return _error(409, "duplicate key value violates unique constraint", "23505")
        if existing is not None:
            existing.update(row)
        else:
            rows.append(dict(row))
    if "return=representation" in prefer:
        return web.json_response(incoming, status=201)
    return web.Response(status=201)


async def _outage(request: web.Request) -> web.StreamResponse:
    request.app[STATE]["down"] = bool((await request.json()).get("down"))
    return web.json_response({"down": request.app[STATE]["down"]})


async def _requests(request: web.Request) -> web.StreamResponse:
    return web.json_response(request.app[STATE]["requests"])


async def _tables(request: web.Request) -> web.StreamResponse:
    return web.json_response(request.app[STATE]["tables"])


def create_app(key: str) -> web.Application:
    app = web.Application()
    app[STATE] = {"key": key, "down": False, "requests": [], "tables": {}}
    app.router.add_route("*", "/rest/v1/{table}", _rest)
    app.router.add_post("/_fake/outage", _outage)
    app.router.add_get("/_fake/requests", _requests)
    app.router.add_get("/_fake/tables", _tables)
    return app


async def _serve(host: str, port: int, key: str) -> None:
    runner = web.AppRunner(create_app(key), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        print(
            f"postgrest fake listening on http://{host}:{runner.addresses[0][1]}", file=sys.stderr, flush=True
        )
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--key", required=True)
    args = parser.parse_args()
    asyncio.run(_serve(args.host, args.port, args.key))


if __name__ == "__main__":
    main()
