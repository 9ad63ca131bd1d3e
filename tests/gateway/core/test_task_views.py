"""One task, two APIs: 2025 Task objects and the extension's DetailedTask and CreateTaskResult."""

from __future__ import annotations

import pytest

from contracts.job import Outcome
from gateway.core.task_views import (
    TaskRecord,
    TaskState,
    created_task,
    detailed_task,
    legacy_task,
)
from gateway.core.task_views import (
    TaskRecord as Record,
)

RECORD = TaskRecord("t1", "alice", "slow", "corr", 1_900_000_000.0, 60000, 1_900_000_600.0)


@pytest.mark.parametrize(
    ("outcome", "legacy", "modern"),
    [
        (None, "working", "working"),
        (Outcome(call_id="t1", text="ok"), "completed", "completed"),
        (Outcome(call_id="t1", text="no", is_error=True, error_code="TOOL_ERROR"), "failed", "completed"),
        (
            Outcome(
                call_id="t1",
                text="x",
                is_error=True,
                kind="protocol_error",
                error={"code": -1, "message": "x"},
            ),
            "failed",
            "failed",
        ),
        (Outcome(call_id="t1", text="stop", is_error=True, error_code="CANCELLED"), "cancelled", "cancelled"),
    ],
)
def test_each_api_reads_the_status_from_the_outcome_its_own_way(
    outcome: Outcome | None, legacy: str, modern: str
) -> None:
    """A tool error is failed in 2025 and completed (isError) in the extension."""
    state = TaskState(RECORD, outcome=outcome)
    assert state.status(modern=False) == legacy and state.status(modern=True) == modern


def test_the_2025_task_has_ttl_and_poll_interval_and_the_extension_ms_fields() -> None:
    """2025: ttl/pollInterval; extension: ttlMs/pollIntervalMs, never the 2025 names or requestState."""
    state = TaskState(RECORD)
    old = legacy_task(state, 1000)
    assert old["ttl"] == 60000 and old["pollInterval"] == 1000 and old["createdAt"].endswith("Z")
    new = created_task(state, 1000)
    assert new["resultType"] == "task" and new["ttlMs"] == 60000 and new["pollIntervalMs"] == 1000
    assert not {"ttl", "pollInterval", "requestState", "result"} & set(new)


def test_a_task_asking_for_input_shows_only_its_unanswered_requests() -> None:
    """input_required with the requests not yet answered; all answered reads as working again."""
    interim = Outcome(
        call_id="t1",
        text="?",
        kind="input_required",
        input_requests={
            "a": {"method": "roots/list", "params": {}},
            "b": {"method": "roots/list", "params": {}},
        },
    )
    partly = detailed_task(TaskState(RECORD, interim=interim, answered=frozenset({"a"})), 1000)
    assert partly["status"] == "input_required" and set(partly["inputRequests"]) == {"b"}
    done = TaskState(RECORD, interim=interim, answered=frozenset({"a", "b"}))
    assert done.status(modern=True) == "working"


def test_a_record_loads_ignoring_fields_it_does_not_know() -> None:
    """A record written by a newer gateway still loads (unknown keys dropped)."""
    raw = RECORD.dump()[:-1] + ',"from_the_future":1}'
    assert Record.load(raw) == RECORD
