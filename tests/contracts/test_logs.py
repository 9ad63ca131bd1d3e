"""Log lines carry the call's correlation id, including Celery's own lines about a task."""

from __future__ import annotations

import json
import logging

import pytest

from contracts.logs import TEXT_FORMAT, _CorrelationFilter, _JsonFormatter, correlated, task_summary


def _render(record: logging.LogRecord, fmt: logging.Formatter) -> str:
    _CorrelationFilter().filter(record)
    return fmt.format(record)


def _record(message: str, data: object = None) -> logging.LogRecord:
    record = logging.LogRecord("celery.worker.strategy", logging.INFO, __file__, 1, message, None, None)
    if data is not None:
        record.data = data
    return record


def test_the_contextvar_puts_the_id_on_every_line() -> None:
    """Inside `correlated`, text lines show the id in brackets."""
    with correlated("abc-123"):
        line = _render(_record("running chat"), logging.Formatter(TEXT_FORMAT))
    assert "[abc-123] running chat" in line
    assert "[-]" in _render(_record("idle"), logging.Formatter(TEXT_FORMAT))


def test_celery_lines_about_a_task_take_the_id_from_its_summary() -> None:
    """Celery logs "Task … received" outside the task; the summary we send in kwargsrepr carries the id."""
    summary = task_summary("chat", "c" * 32, "trace-42")
    record = _record("Task exai.tool.chat[ccc] received", {"id": "c" * 32, "kwargs": summary})
    assert "[trace-42]" in _render(record, logging.Formatter(TEXT_FORMAT))
    assert "prompt" not in summary


def test_json_lines_hold_the_id_and_a_timezone_aware_timestamp() -> None:
    """EXAI_LOG_FORMAT=json: one object per line with ts, level, logger, correlation_id."""
    with correlated("json-1"):
        payload = json.loads(_render(_record("hello"), _JsonFormatter()))
    assert payload["correlation_id"] == "json-1" and payload["message"] == "hello"
    assert payload["ts"].endswith("+00:00")


@pytest.mark.parametrize("kwargs", [None, {"kwargs": 5}, {"kwargs": "{'prompt': 'x'}"}, "text"])
def test_unrelated_record_data_leaves_the_id_unset(kwargs: object) -> None:
    """Records without our summary keep the placeholder."""
    assert "[-]" in _render(_record("x", kwargs), logging.Formatter(TEXT_FORMAT))


def test_sub_tasks_that_pass_the_id_in_a_dict_argument_are_tagged_too() -> None:
    """Celery's repr of a dict argument holding correlation_id (consensus, history writes) works."""
    record = _record("Task exai.consult[x] received", {"args": "({'correlation_id': 'sub-7', 'n': 1},)"})
    assert "[sub-7]" in _render(record, logging.Formatter(TEXT_FORMAT))
