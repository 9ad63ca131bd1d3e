"""GLM (Zhipu / Z.ai): the OpenAI chat dialect plus a ``request_id`` body field for tracing."""

from __future__ import annotations

from typing import Any

from workers.providers.base import ChatRequest
from workers.providers.openai_compat import OpenAICompatClient


class GlmClient(OpenAICompatClient):
    name = "glm"

    def request_body(self, request: ChatRequest, *, request_id: str, stream: bool) -> dict[str, Any]:
        body = super().request_body(request, request_id=request_id, stream=stream)
        # Set last so the body and the X-Request-ID header always name the same call.
        body["request_id"] = request_id
        return body
