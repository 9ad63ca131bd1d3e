"""An in-memory ThreadReader (contracts.thread) for unit tests of the gateway's handlers."""

from __future__ import annotations

from contracts.thread import Thread, Turn


class MemoryThreads:
    def __init__(self, *threads: Thread) -> None:
        self.threads = {thread.id: thread for thread in threads}

    def add(self, thread_id: str, owner: str, tool: str = "chat", at: float = 1_900_000_000.0) -> Thread:
        turns = [
            Turn("user", f"question of {thread_id}", tool, timestamp=at),
            Turn("assistant", "answer", tool, timestamp=at),
        ]
        thread = Thread(id=thread_id, owner=owner, tool=tool, created_at=at, turns=turns)
        self.threads[thread_id] = thread
        return thread

    async def get(self, owner: str, thread_id: str) -> Thread | None:
        thread = self.threads.get(thread_id)
        return thread if thread is not None and thread.owner == owner else None

    async def recent(self, owner: str, limit: int) -> list[Thread]:
        mine = [t for t in self.threads.values() if t.owner == owner]
        return sorted(mine, key=lambda t: t.updated_at, reverse=True)[:limit]
