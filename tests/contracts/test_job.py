"""The job payload and the worker's messages: new fields have defaults, so old payloads still parse."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from contracts.job import Job, Outcome, ProgressEvent, ResultEvent, decode_event

# What a gateway and a worker of the previous release wrote into Redis, field for field.
OLD_JOB = {
    "call_id": "c1", "tool": "chat", "arguments": {"prompt": "hi"}, "reply_to": "exai:reply:g1",
    "deadline": 2_000_000_000.0, "client": "alice", "correlation_id": "corr-1",
    "created_at": 1_900_000_000.0, "progress": True,
}  # fmt: skip
OLD_OUTCOME = {
    "call_id": "c1", "text": "answer", "structured": {"status": "success"}, "is_error": False,
    "error_code": None, "meta": {"attempts": 1}, "finished_at": 1_900_000_001.0,
}  # fmt: skip


def test_a_job_written_before_the_input_fields_existed_still_parses_with_their_defaults() -> None:
    """No capabilities, no answers, no continuation, round 0, no log listener."""
    job = Job.model_validate_json(json.dumps(OLD_JOB))
    assert (job.client_capabilities, job.input_responses, job.continuation, job.round, job.log) == (
        {},
        None,
        None,
        0,
        False,
    )


def test_an_outcome_stored_by_an_older_worker_reads_as_a_complete_text_result() -> None:
    """kind complete, no content blocks (one text block of ``text``), no error, no input requests."""
    outcome = Outcome.model_validate_json(json.dumps(OLD_OUTCOME))
    assert outcome.kind == "complete" and outcome.content is None
    assert outcome.error is None and outcome.input_requests is None and outcome.continuation is None


def test_an_interim_outcome_keeps_its_requests_and_continuation_through_json() -> None:
    """An input_required round survives the trip through Redis exactly."""
    requests = {"user_name": {"method": "elicitation/create", "params": {"message": "Name?"}}}
    outcome = Outcome(
        call_id="c2", text="asks", kind="input_required", input_requests=requests, continuation={"step": 1}
    )
    again = Outcome.model_validate_json(outcome.model_dump_json())
    assert again.kind == "input_required" and again.input_requests == requests
    assert again.continuation == {"step": 1}


def test_a_log_event_decodes_from_the_reply_channel_with_its_message() -> None:
    """A log line travels as a ProgressEvent carrying ``log``."""
    event = ProgressEvent(call_id="c3", progress=0, log={"level": "info", "data": "started"})
    decoded = decode_event(event.model_dump_json())
    assert isinstance(decoded, ProgressEvent) and decoded.log == {"level": "info", "data": "started"}
    result = decode_event(
        ResultEvent(call_id="c3", outcome=Outcome(call_id="c3", text="x")).model_dump_json()
    )
    assert isinstance(result, ResultEvent) and result.outcome.kind == "complete"


def test_a_negative_round_is_refused() -> None:
    """Rounds count from 0."""
    with pytest.raises(ValidationError, match="round"):
        Job.model_validate({**OLD_JOB, "round": -1})
