"""Completion bodies and stream chunks in each provider's dialect of the OpenAI chat format.

The one difference clients must cope with: in the last stream chunk GLM sends ``usage`` at the top
level, Kimi inside ``choices[0]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from emulator.replies import Reply


@dataclass(frozen=True)
class Completion:
    provider: str
    model: str
    id: str
    created: int
    request_id: str | None  # GLM echoes the caller's request_id in every body
    reply: Reply

    def _envelope(self, obj: str) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "object": obj, "created": self.created, "model": self.model}
        if self.provider == "glm":
            out["request_id"] = self.request_id or self.id
        return out

    def usage(self) -> dict[str, int]:
        prompt, completion = self.reply.prompt_tokens, self.reply.completion_tokens
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    def _tool_calls(self) -> list[dict[str, Any]]:
        call = self.reply.tool_call
        if call is None:
            return []
        function = {"name": call.name, "arguments": "".join(call.argument_pieces)}
        return [{"id": call.id, "type": "function", "function": function}]

    def body(self) -> dict[str, Any]:
        """The whole answer to a non-streaming call."""
        message: dict[str, Any] = {"role": "assistant", "content": self.reply.content}
        if self.reply.reasoning_pieces:
            message["reasoning_content"] = self.reply.reasoning
        if self.reply.tool_call is not None:
            message["tool_calls"] = self._tool_calls()
        choice = {"index": 0, "message": message, "finish_reason": self.reply.finish_reason}
        out = {**self._envelope("chat.completion"), "choices": [choice], "usage": self.usage()}
        if self.reply.web_search:
            out["web_search"] = list(self.reply.web_search)
        return out

    def _chunk(self, delta: dict[str, Any]) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": None}
        return {**self._envelope("chat.completion.chunk"), "choices": [choice]}

    def token_chunks(self) -> list[dict[str, Any]]:
        """One chunk per completion token, the first also carrying the assistant role."""
        deltas: list[dict[str, Any]] = [{"reasoning_content": p} for p in self.reply.reasoning_pieces]
        deltas += [{"content": p} for p in self.reply.content_pieces]
        call = self.reply.tool_call
        if call is not None:
            # The id, type and name come once, in the first piece; the arguments arrive in pieces.
            for i, piece in enumerate(call.argument_pieces):
                tool: dict[str, Any] = {"index": 0, "function": {"arguments": piece}}
                if i == 0:
                    tool.update(id=call.id, type="function", function={"name": call.name, "arguments": piece})
                deltas.append({"tool_calls": [tool]})
        if deltas:
            deltas[0] = {"role": "assistant", **deltas[0]}
        chunks = [self._chunk(delta) for delta in deltas]
        if chunks and self.reply.web_search:
            chunks[0]["web_search"] = list(self.reply.web_search)  # GLM sends them up front
        return chunks

    def final_chunk(self) -> dict[str, Any]:
        chunk = self._chunk({})
        choice = chunk["choices"][0]
        choice["finish_reason"] = self.reply.finish_reason
        if self.provider == "kimi":
            choice["usage"] = self.usage()
        else:
            chunk["usage"] = self.usage()
        return chunk
