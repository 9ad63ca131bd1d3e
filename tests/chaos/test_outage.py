"""A provider outage storm: retries with backoff, the breaker opens, calls fail fast, then recover."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
import redis
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from contracts.names import breaker_key
from tests.chaos.ledger import Figures, Ledger, figures
from tests.support.stack import running_stack

pytestmark = [pytest.mark.anyio, pytest.mark.chaos, pytest.mark.timeout(240)]

# The issue asks for 30 s of outage; CHAOS_STORM_S shortens it for a quick local run.
STORM_S = float(os.environ.get("CHAOS_STORM_S", "30"))
COOLDOWN_S = 3.0
FAST_FAIL_S = 2.0  # an open breaker answers well within this


def call(name: str, model: str, prompt: str) -> dict[str, Any]:
    return {
        "name": "chat",
        "arguments": {"prompt": prompt, "model": model},
        "_meta": {"io.exai/correlation_id": name},
    }


def text_of(answer: dict[str, Any]) -> str:
    return str(answer["result"]["content"][0]["text"])


async def test_an_outage_storm_opens_the_breaker_and_everything_flows_again_after_it(
    tmp_path: Path, record_figures: list[Figures]
) -> None:
    """Kimi down: auto falls back to GLM. Both down for the storm: fast clear errors. Then recovery."""
    with running_stack(
        tmp_path,
        workers=1,
        EXAI_BREAKER_COOLDOWN_S=str(COOLDOWN_S),
        EXAI_BREAKER_FAILURE_THRESHOLD="5",
        EXAI_MAX_RETRIES="4",
    ) as stack:
        store = redis.Redis.from_url(stack.env["REDIS_URL"])
        async with connect(stack.authed_url, subprotocols=[Subprotocol("mcp")]) as ws:
            ledger = Ledger(ws)
            async with anyio.create_task_group() as group:
                group.start_soon(ledger.read_forever)
                await ledger.initialize()

                # 1. Kimi alone fails: its breaker opens; `auto` falls back to GLM.
                stack.fault("server_error", count=-1, provider="kimi")
                for n in range(3):
                    answer = await ledger.request(
                        f"k{n}", "tools/call", call(f"k{n}", "kimi-k2.6", "kimi down")
                    )
                    assert answer["result"]["isError"] is True
                assert store.hget(breaker_key("kimi"), "state") == b"open"
                started = time.monotonic()
                refused = await ledger.request("k-fast", "tools/call", call("k-fast", "kimi-k2.6", "fast"))
                assert time.monotonic() - started < FAST_FAIL_S
                assert "circuit breaker is open" in text_of(refused)
                fallback = await ledger.request("auto-1", "tools/call", call("auto-1", "auto", "fall back"))
                assert fallback["result"]["isError"] is False
                assert fallback["result"]["structuredContent"]["metadata"]["provider"] == "glm"

                # 2. The storm: every provider fails for STORM_S seconds while calls keep coming.
                stack.reset_emulator()
                stack.fault("server_error", count=-1, provider="*")
                storm_ids: list[str] = []
                timings: dict[str, float] = {}
                storm_end = time.monotonic() + STORM_S
                n = 0
                while time.monotonic() < storm_end:
                    batch = [f"s{n}-{model}" for model in ("kimi-k2.6", "glm-4.6", "auto")]
                    n += 1
                    sent_at = time.monotonic()
                    for name in batch:
                        await ledger.send(name, "tools/call", call(name, name.split("-", 1)[1], "storm"))
                    await ledger.wait_for(batch, timeout=60)
                    for name in batch:
                        timings[name] = time.monotonic() - sent_at
                    storm_ids += batch
                    await anyio.sleep(0.5)  # the pace of a client, not a synchronisation
                during = stack.emulator_stats()["calls"]
                states = {p: store.hget(breaker_key(p), "state") for p in ("kimi", "glm")}

                # 3. Recovery: the provider is back; a half-open probe closes the breaker; no restart.
                stack.reset_emulator()
                recovered_at = time.monotonic()
                with anyio.fail_after(COOLDOWN_S * 4 + 30):
                    for model in ("kimi-k2.6", "glm-4.6"):  # each provider's breaker probes and closes
                        n = 0
                        while True:
                            name = f"r-{model}-{n}"
                            probe = await ledger.request(name, "tools/call", call(name, model, "back?"))
                            if probe["result"]["isError"] is False:
                                break
                            n += 1
                            await anyio.sleep(0.5)  # the pace of a client retrying
                recovery_s = time.monotonic() - recovered_at
                after = [f"after-{i}" for i in range(20)]
                for i, name in enumerate(after):
                    await ledger.send(
                        name, "tools/call", call(name, ("kimi-k2.6", "glm-4.6", "auto")[i % 3], name)
                    )
                await ledger.wait_for(after, timeout=60)
                await ledger.request("fence", "ping", {})
                group.cancel_scope.cancel()

        storm = figures(
            f"outage storm {STORM_S:.0f} s (answered = completed)",
            storm_ids,
            ledger.answers,
            {},
            {i: i for i in storm_ids},
            completed_if=lambda a: a["result"]["isError"] is True,
        )
        recovery = figures(
            "after the storm",
            after,
            ledger.answers,
            stack.emulator_stats()["by_request_id"],
            {i: i for i in after},
        )
    record_figures.extend([storm, recovery])
    assert (storm.completed, storm.lost, storm.duplicated) == (len(storm_ids), 0, 0)
    texts = [text_of(ledger.answers[i][0]) for i in storm_ids]
    attempts = [
        ledger.answers[i][0]["result"]["structuredContent"]["metadata"]["attempts"] for i in storm_ids
    ]
    assert max(attempts) > 1  # retried with backoff before the breaker opened
    assert all(t for t in texts)
    fast = [i for i in storm_ids if "circuit breaker is open" in text_of(ledger.answers[i][0])]
    assert len(fast) >= len(storm_ids) // 2
    assert all(timings[i] < FAST_FAIL_S for i in fast if i.endswith(("kimi-k2.6", "glm-4.6")))
    assert states["kimi"] in (b"open", b"half_open") and states["glm"] in (b"open", b"half_open")
    # An open breaker spares the provider: a few probes per cooldown, not every call and retry.
    assert during["kimi"] + during["glm"] <= 20 + 2 * 2 * STORM_S / COOLDOWN_S
    assert recovery_s < COOLDOWN_S * 4 + 30
    assert (recovery.completed, recovery.lost, recovery.duplicated) == (20, 0, 0)
