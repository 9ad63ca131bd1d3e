"""Reading queue state from kombu's messages and breaker hashes, without trusting their content."""

from __future__ import annotations

import base64
import json

from monitoring.state import PRIORITY_SEP, error_class, message_created_at, queue_keys


def _message(created_at: float, encoding: str = "base64") -> bytes:
    body = json.dumps([[], {"job": {"call_id": "c", "created_at": created_at}}, {}]).encode()
    return json.dumps(
        {
            "body": base64.b64encode(body).decode() if encoding == "base64" else body.decode(),
            "properties": {"body_encoding": encoding},
            "headers": {},
        }
    ).encode()


def test_the_age_of_a_queued_call_comes_from_its_job() -> None:
    """The job's created_at is read from a Celery message, base64 or not."""
    assert message_created_at(_message(1234.5)) == 1234.5
    assert message_created_at(_message(99.0, encoding="utf-8")) == 99.0


def test_an_unreadable_message_has_no_age() -> None:
    """Foreign or broken messages are skipped, never an error."""
    assert message_created_at(b"not json") is None
    assert message_created_at(json.dumps({"body": "e30=", "properties": {}}).encode()) is None


def test_priority_lists_are_counted_with_the_queue() -> None:
    """kombu keeps priorities 3, 6 and 9 in sibling lists."""
    assert queue_keys("exai.tools") == [
        "exai.tools",
        f"exai.tools{PRIORITY_SEP}3",
        f"exai.tools{PRIORITY_SEP}6",
        f"exai.tools{PRIORITY_SEP}9",
    ]


def test_only_the_class_of_an_error_is_kept() -> None:
    """A breaker's last error shows as a class name, never as a message with data in it."""
    assert error_class(b"rate_limit") == "rate_limit"
    assert error_class("server_error: key sk-123 leaked in body") == "server_error"
    assert error_class("  ") is None
    assert error_class(None) is None
