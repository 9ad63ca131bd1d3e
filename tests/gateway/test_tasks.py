"""The task store's pure parts: status from an outcome, the Task object, ttl and cursors."""

from __future__ import annotations

from typing import cast

import pytest

from contracts.job import Outcome
from contracts.settings import Settings
from gateway.calls import CallBroker
from gateway.tasks import TaskError, TaskRecord, TaskService, _decode_cursor, call_result, status_of


class FakeBroker:
    settings = Settings(exai_result_ttl_s=3600, exai_task_poll_interval_s=0.5)


def service() -> TaskService:
    return TaskService(cast(CallBroker, FakeBroker()))


RECORD = TaskRecord(
    task_id="abc",
    owner="alice",
    tool="chat",
    correlation_id="corr",
    created_at=0.0,
    ttl_ms=1000,
    deadline=9.0,
)


def test_a_tasks_status_follows_its_outcome() -> None:
    """No outcome: working; a result: completed; isError: failed; a cancellation: cancelled."""
    assert status_of(None) == "working"
    assert status_of(Outcome(call_id="a", text="ok")) == "completed"
    assert status_of(Outcome(call_id="a", text="no", is_error=True, error_code="TIMEOUT")) == "failed"
    assert status_of(Outcome(call_id="a", text="no", is_error=True, error_code="CANCELLED")) == "cancelled"


def test_the_task_object_has_every_field_mcp_asks_for() -> None:
    """ISO 8601 times in UTC, ttl and pollInterval in ms, a message while working or failed."""
    working = service().view(RECORD, None)
    assert working["createdAt"] == "1970-01-01T00:00:00Z" and working["ttl"] == 1000
    assert working["pollInterval"] == 500 and "chat" in working["statusMessage"]
    failed = service().view(RECORD, Outcome(call_id="abc", text="boom", is_error=True, finished_at=60.0))
    assert failed["status"] == "failed" and failed["statusMessage"] == "boom"
    assert failed["lastUpdatedAt"] == "1970-01-01T00:01:00Z"


def test_the_ttl_asked_for_is_honoured_up_to_how_long_outcomes_are_kept() -> None:
    """A ttl in ms is kept when positive and below EXAI_RESULT_TTL_S, else capped or defaulted."""
    tasks = service()
    assert tasks.ttl_ms(5000) == 5000
    assert tasks.ttl_ms(10**12) == 3_600_000
    assert tasks.ttl_ms(None) == tasks.ttl_ms(-1) == tasks.ttl_ms(True) == 3_600_000


def test_a_task_result_is_what_the_plain_call_answers() -> None:
    """Text, isError, structured content and the call's ids, exactly as tools/call returns them."""
    outcome = Outcome(call_id="abc", text="{}", structured={"status": "success"})
    result = call_result(outcome, "corr")
    assert result == {
        "content": [{"type": "text", "text": "{}"}],
        "isError": False,
        "_meta": {"io.exai/correlation_id": "corr", "io.exai/call_id": "abc"},
        "structuredContent": {"status": "success"},
    }


@pytest.mark.parametrize("cursor", [5, "", "bm9wZQ==", "dGFza3M6LTE=", "dGFza3M6MTAwMDAwMDAwMDA="])
def test_forged_cursors_are_refused(cursor: object) -> None:
    """Only cursors this server issued (tasks:<offset>) are accepted."""
    with pytest.raises(TaskError):
        _decode_cursor(cursor)
