"""GLM (Zhipu / Z.ai): the OpenAI chat dialect plus a ``request_id`` body field and a search API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workers.cancellation import CancelToken
from workers.providers.base import ChatRequest
from workers.providers.openai_compat import OpenAICompatClient, _json_or_none


class GlmClient(OpenAICompatClient):
    name = "glm"

    def request_body(self, request: ChatRequest, *, request_id: str, stream: bool) -> dict[str, Any]:
        body = super().request_body(request, request_id=request_id, stream=stream)
        # Set last so the body and the X-Request-ID header always name the same call.
        body["request_id"] = request_id
        return body

    def web_search(
        self,
        query: dict[str, Any],
        *,
        request_id: str,
        deadline: float,
        cancel: CancelToken | None = None,
    ) -> dict[str, Any]:
        """``POST {base}/web_search``: the search API's answer (``search_result`` and friends)."""
        body = {**query, "request_id": request_id}
        with self._exchange("POST", "/web_search", request_id, deadline, cancel, body) as (_, response):
            answer = _json_or_none(response.read())
        if not isinstance(answer, Mapping) or not isinstance(answer.get("search_result"), list):
            raise self._malformed("the search answer has no search_result list")
        return dict(answer)
