"""One tool call's place in a conversation: load the thread, build the prompt, record the turns.

Tools that talk to a model use this so ``continuation_id``, files, images and the history budget
behave the same everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from contracts.models import ModelInfo
from workers.budget import estimate_tokens, input_budget
from workers.context import ToolContext
from workers.files import EmbeddedFile, files_block, read_files
from workers.history import build_history
from workers.images import image_parts
from workers.threads import Thread, ThreadStore, Turn

# Set by the worker when Supabase is configured (workers.supabase_sync.install): MIRROR copies new
# turns to durable storage, RESTORE reads back a thread that expired from Redis.
Mirror = Callable[[Thread, list[Turn]], None]
MIRROR: Mirror | None = None
RESTORE: Callable[[str], Thread | None] | None = None


@dataclass
class Conversation:
    ctx: ToolContext
    tool: str
    store: ThreadStore | None
    thread: Thread | None
    files: list[EmbeddedFile] = field(default_factory=list)
    images: list[dict[str, Any]] = field(default_factory=list)

    def messages_for(
        self, system: str, prompt: str, max_output: int
    ) -> Callable[[ModelInfo], list[dict[str, Any]]]:
        """A builder of the messages for one model: system, history that fits, files, prompt."""
        current = files_block(self.files)
        user_text = f"{current}\n\n{prompt}" if current else prompt
        fixed = estimate_tokens(system) + estimate_tokens(user_text) + 1000 * len(self.images)
        skip = frozenset(f.path for f in self.files)

        def build(model: ModelInfo) -> list[dict[str, Any]]:
            messages: list[dict[str, Any]] = [{"role": "system", "content": system}]
            if self.thread is not None and self.thread.turns:
                budget = input_budget(model, max_output) - fixed
                history = build_history(self.thread, max(budget, 0), self.ctx.settings, skip_files=skip)
                messages.extend(history.messages)
            content: str | list[dict[str, Any]] = user_text
            if self.images:
                content = [{"type": "text", "text": user_text}, *self.images]
            messages.append({"role": "user", "content": content})
            return messages

        return build

    def record(
        self,
        user_text: str,
        answer_text: str,
        *,
        provider: str | None = None,
        model: str | None = None,
        state: dict[str, Any] | None = None,
        files: list[str] | None = None,
    ) -> dict[str, Any] | None:
        """Append this call's turns; returns the continuation offer for the result."""
        if self.store is None:
            return None
        names = files if files is not None else [f.path for f in self.files]
        call_id = self.ctx.call_id
        turns = [
            Turn(role="user", content=user_text, tool=self.tool, files=names, call_id=call_id),
            Turn(
                role="assistant",
                content=answer_text,
                tool=self.tool,
                provider=provider,
                model=model,
                call_id=call_id,
            ),
        ]
        if self.thread is None:
            # Written with the outcome (one round trip fewer): nobody can know the id before.
            owner, after = self.ctx.job.client, self.ctx.after
            self.thread = self.store.create(owner, self.tool, turns, state, after=after)
        else:
            if self.ctx.after is not None:
                self.ctx.after.flush(self.store.redis)  # a thread created earlier in this call first
            self.thread = self.store.append(self.thread, turns, state)
        if MIRROR is not None:
            MIRROR(self.thread, turns)
        return {"continuation_id": self.thread.id, "remaining_turns": self.store.remaining(self.thread)}


def open_conversation(ctx: ToolContext, args: dict[str, Any], tool: str) -> Conversation:
    """Load the thread named by ``continuation_id`` (checking its owner) and reserve this call's
    turns in it, before any provider is asked; then read the files and images."""
    store = ThreadStore(ctx.redis, ctx.settings, RESTORE) if ctx.redis is not None else None
    thread = None
    continuation = args.get("continuation_id")
    if continuation and store is not None:
        thread = store.load(continuation, ctx.job.client)
        store.reserve(thread, ctx.call_id, ctx.deadline)
        if ctx.settle is not None:
            # Consumed if the turns are recorded; else given back with the call's outcome.
            thread_id, call_id = thread.id, ctx.call_id
            ctx.settle.add(lambda pipe: store.release(pipe, thread_id, call_id))
    files = read_files(args.get("files") or [], ctx.settings)
    images = image_parts(args.get("images") or [], ctx.settings)
    return Conversation(ctx, tool, store, thread, files, images)
