"""Counting calls through a chaos scenario: sent, completed, lost, answered twice, redone."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import anyio
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from tests.support.clients import initialize_params


@dataclass
class Figures:
    scenario: str
    sent: int
    completed: int
    lost: int
    duplicated: int
    redone: int  # calls whose provider work ran twice (allowed: at most once more)
    extra: str = ""  # a scenario's own figure (a recovery delay)

    def line(self) -> str:
        return (
            f"{self.scenario}: sent {self.sent}, completed {self.completed}, lost {self.lost}, "
            f"duplicated {self.duplicated}, provider work redone {self.redone}"
            + (f", {self.extra}" if self.extra else "")
        )


@dataclass
class Ledger:
    """Every answer a connection receives, by request id, read by one background reader."""

    ws: ClientConnection
    answers: dict[Any, list[dict[str, Any]]] = field(default_factory=dict)
    notes: list[dict[str, Any]] = field(default_factory=list)
    answered_at: dict[Any, float] = field(default_factory=dict)  # monotonic time of the first answer
    _changed: anyio.Event = field(default_factory=anyio.Event)

    async def read_forever(self) -> None:
        try:
            async for raw in self.ws:
                message = json.loads(raw)
                if "method" in message:
                    self.notes.append(message)
                    continue
                self.answers.setdefault(message.get("id"), []).append(message)
                self.answered_at.setdefault(message.get("id"), time.monotonic())
                self._changed.set()
                self._changed = anyio.Event()
        except ConnectionClosed:
            pass

    async def send(self, msg_id: Any, method: str, params: dict[str, Any]) -> None:
        await self.ws.send(json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}))

    async def wait_for(self, ids: list[Any], timeout: float) -> None:
        """Wait until every id in ``ids`` has an answer (fail the test after ``timeout``)."""
        with anyio.fail_after(timeout):
            while any(i not in self.answers for i in ids):
                await self._changed.wait()

    async def request(
        self, msg_id: Any, method: str, params: dict[str, Any], timeout: float = 30
    ) -> dict[str, Any]:
        await self.send(msg_id, method, params)
        await self.wait_for([msg_id], timeout)
        return self.answers[msg_id][0]

    async def initialize(self) -> None:
        await self.request("init", "initialize", initialize_params("chaos"))
        await self.ws.send(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))


def figures(
    scenario: str,
    sent: list[Any],
    answers: dict[Any, list[dict[str, Any]]],
    provider_calls: dict[str, int],
    correlation: dict[Any, str],
    completed_if: Any = None,
) -> Figures:
    """Tally one scenario: ``completed`` counts answers that are tool results without isError."""

    def ok(answer: dict[str, Any]) -> bool:
        if completed_if is not None:
            return bool(completed_if(answer))
        result = answer.get("result")
        return isinstance(result, dict) and result.get("isError") is False

    counts = Counter({i: len(answers.get(i, [])) for i in sent})
    return Figures(
        scenario=scenario,
        sent=len(sent),
        completed=sum(1 for i in sent if answers.get(i) and ok(answers[i][0])),
        lost=sum(1 for i in sent if counts[i] == 0),
        duplicated=sum(1 for i in sent if counts[i] > 1),
        redone=sum(1 for i in sent if provider_calls.get(correlation[i], 0) > 1),
    )
