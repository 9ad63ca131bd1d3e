"""Kimi (Moonshot): the OpenAI chat dialect as it is, usage in the last stream chunk's first choice."""

from __future__ import annotations

from workers.providers.openai_compat import OpenAICompatClient


class KimiClient(OpenAICompatClient):
    name = "kimi"
