"""A workflow's expert asks which files to read, in each era, through the real stack.

The product use of input requests: the final step of ``codereview`` names no file, so before the
expert model is asked the worker asks the client (if it declared ``elicitation``) which files it
should read. A 2026-07-28 client answers by retrying the call with ``inputResponses`` and the
sealed ``requestState`` (MRTR), or, for a task, with ``tasks/update``; a 2025-11-25 client is sent
an ``elicitation/create`` request on its connection. A client that cannot be asked is not asked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession
from mcp.client.websocket import websocket_client
from mcp.shared.context import RequestContext
from mcp.types import ElicitRequestParams, ElicitResult

from tests.support.clients import WAIT, mcp_session
from tests.support.modern_http import answer_of, body
from tests.support.stack import Stack, running_stack

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

TASKS = "io.modelcontextprotocol/tasks"
FORM = "expert_files"
FINAL = {"step": "Review divide()", "step_number": 1, "total_steps": 1, "next_step_required": False,
         "findings": "divide() may fail", "confidence": "high", "model": "kimi-k2.6",
         "review_type": "quick"}  # fmt: skip


@pytest.fixture(scope="module")
def files_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("project")
    (root / "app.py").write_text("def divide(a, b):\n    return a / b  # ZeroDivisionError when b == 0\n")
    return root


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, files_root: Path) -> Iterator[Stack]:
    """File roots for the expert to read; every call of a tasks-extension client is a task."""
    with running_stack(
        tmp_path_factory.mktemp("workflow-input"), EXAI_FILE_ROOTS=str(files_root), EXAI_TASK_THRESHOLD_S="0"
    ) as running:
        yield running


def expert_prompt(stack: Stack) -> str:
    return json.dumps(stack.emulator_stats()["last_body"]["kimi"]["messages"])


def payload(result: dict[str, Any]) -> dict[str, Any]:
    assert result.get("isError") is False, result
    return dict(result["structuredContent"])


async def test_a_modern_client_is_asked_for_files_and_its_retry_sends_them_to_the_expert(
    stack: Stack, files_root: Path
) -> None:
    """Round 1 answers input_required with the form and no model call; the retry reads the file."""
    calls_before = stack.emulator_stats()["calls"]["kimi"]
    call = {"name": "codereview", "arguments": FINAL}
    first = (await answer_of(stack.http_url, body(1, "tools/call", call, elicitation={})))["result"]
    assert first["resultType"] == "input_required"
    form = first["inputRequests"][FORM]
    assert form["method"] == "elicitation/create"
    assert "no step named a file" in form["params"]["message"]
    assert stack.emulator_stats()["calls"]["kimi"] == calls_before
    app = str(files_root / "app.py")
    retry = {
        **call,
        "inputResponses": {FORM: {"action": "accept", "content": {"files": app}}},
        "requestState": first["requestState"],
    }
    second = (await answer_of(stack.http_url, body(2, "tools/call", retry, elicitation={})))["result"]
    assert second["resultType"] == "complete"
    done = payload(second)
    assert done["status"] == "codereview_complete"
    assert done["expert_analysis"]["files_from_form"] == [app]
    assert "ZeroDivisionError" in expert_prompt(stack)


async def test_a_modern_client_that_declines_gets_a_review_from_the_notes_alone(stack: Stack) -> None:
    call = {"name": "codereview", "arguments": {**FINAL, "findings": "declined-notes"}}
    first = (await answer_of(stack.http_url, body(3, "tools/call", call, elicitation={})))["result"]
    retry = {**call, "inputResponses": {FORM: {"action": "decline"}}, "requestState": first["requestState"]}
    second = (await answer_of(stack.http_url, body(4, "tools/call", retry, elicitation={})))["result"]
    assert payload(second)["status"] == "codereview_complete"
    sent = expert_prompt(stack)
    assert "declined-notes" in sent and "ZeroDivisionError" not in sent


async def test_a_client_without_elicitation_is_not_asked(stack: Stack) -> None:
    """Neither era: the modern call completes in one round, the SDK client's call just returns."""
    call = {"name": "codereview", "arguments": {**FINAL, "findings": "unasked-modern"}}
    modern = (await answer_of(stack.http_url, body(5, "tools/call", call)))["result"]
    assert modern["resultType"] == "complete" and payload(modern)["status"] == "codereview_complete"
    async with mcp_session(stack.authed_url) as session:
        legacy = await session.call_tool("codereview", {**FINAL, "findings": "unasked-legacy"})
    assert legacy.isError is False and legacy.structuredContent is not None
    assert legacy.structuredContent["status"] == "codereview_complete"
    assert "unasked-legacy" in expert_prompt(stack)


async def test_a_modern_task_waits_in_input_required_until_tasks_update_answers(
    stack: Stack, files_root: Path
) -> None:
    """With the tasks extension the call is a task; tasks/get shows the form, tasks/update answers
    it, and the finished task's inlined result was written with the file."""
    capabilities: dict[str, Any] = {"elicitation": {}, "extensions": {TASKS: {}}}
    call = {"name": "codereview", "arguments": {**FINAL, "findings": "task-notes"}}
    created = (await answer_of(stack.http_url, body(6, "tools/call", call, **capabilities)))["result"]
    assert created["resultType"] == "task"
    task_id = created["taskId"]

    async def status_until(wanted: str) -> dict[str, Any]:
        with anyio.fail_after(WAIT):
            while True:
                got = await answer_of(
                    stack.http_url, body(7, "tasks/get", {"taskId": task_id}, **capabilities)
                )
                if got["result"]["status"] == wanted:
                    return dict(got["result"])
                await anyio.sleep(0.2)  # polling the task, bounded above

    asking = await status_until("input_required")
    assert set(asking["inputRequests"]) == {FORM}
    app = str(files_root / "app.py")
    update = {"taskId": task_id, "inputResponses": {FORM: {"action": "accept", "content": {"files": app}}}}
    answered = await answer_of(stack.http_url, body(8, "tasks/update", update, **capabilities))
    assert "error" not in answered, answered
    done = await status_until("completed")
    assert payload(done["result"])["expert_analysis"]["files_from_form"] == [app]
    assert "ZeroDivisionError" in expert_prompt(stack)


async def test_a_legacy_client_is_sent_an_elicitation_request_and_its_answer_reaches_the_expert(
    stack: Stack, files_root: Path
) -> None:
    """2025-11-25 over WebSocket with the official SDK: the gateway asks on the connection."""
    asked: list[ElicitRequestParams] = []
    app = str(files_root / "app.py")

    async def answer(_ctx: RequestContext[ClientSession, Any], params: ElicitRequestParams) -> ElicitResult:
        asked.append(params)
        return ElicitResult(action="accept", content={"files": app})

    async with (
        websocket_client(stack.authed_url) as (read, write),
        ClientSession(read, write, elicitation_callback=answer) as session,
    ):
        with anyio.fail_after(WAIT):
            await session.initialize()
            result = await session.call_tool("codereview", {**FINAL, "findings": "legacy-notes"})
    assert len(asked) == 1 and "no step named a file" in asked[0].message
    assert result.isError is False and result.structuredContent is not None
    assert result.structuredContent["expert_analysis"]["files_from_form"] == [app]
    sent = expert_prompt(stack)
    assert "legacy-notes" in sent and "ZeroDivisionError" in sent
