"""``glm_web_search``: GLM's search API (``POST {base}/web_search``), results as a list."""

from __future__ import annotations

from typing import Any

from workers.context import ToolContext
from workers.envelope import local_envelope
from workers.providers.base import SearchClient

DEFAULT_ENGINE = "search_std"
DEFAULT_COUNT = 10


def run(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    query: dict[str, Any] = {
        "search_query": args["search_query"],
        "search_engine": args.get("search_engine") or DEFAULT_ENGINE,
        "count": args.get("count") or DEFAULT_COUNT,
    }
    for key in ("search_recency_filter", "search_domain_filter"):
        if key in args:
            query[key] = args[key]
    ctx.check()
    ctx.progress(0, None, "searching with GLM", force=True)

    # The worker's pooled GLM client: its breakers, capacity leases, metering and connections.
    client = ctx.provider("glm")
    if not isinstance(client, SearchClient):
        raise TypeError("the glm provider client has no search API")
    answer = client.web_search(
        query, request_id=ctx.job.correlation_id, deadline=ctx.deadline, cancel=ctx.cancel
    )
    results = [
        {
            "title": str(r.get("title", "")),
            "link": str(r.get("link", "")),
            "content": str(r.get("content", "")),
            **({"publish_date": r["publish_date"]} if r.get("publish_date") else {}),
        }
        for r in answer["search_result"]
        if isinstance(r, dict)
    ]
    lines = [f"{i}. [{r['title']}]({r['link']})\n   {r['content']}" for i, r in enumerate(results, 1)]
    envelope = local_envelope(
        f"{len(results)} results for {args['search_query']!r}:\n\n" + "\n".join(lines),
        results=results,
    )
    envelope["content_type"] = "markdown"
    envelope["metadata"] = {"provider": "glm", "model": None}
    return envelope
