"""The schema oracle accepts what each revision allows and refuses the rest, naming what is wrong."""

from __future__ import annotations

import json

import pytest

from tests.support.mcp_types_oracle import (
    NoSchema,
    OracleError,
    error_object,
    has_schema,
    server_frame,
    server_notification,
    server_result,
)

TOOL = {"name": "chat", "description": "talk", "inputSchema": {"type": "object"}}
CACHE = {"ttlMs": 300000, "cacheScope": "public"}


def test_a_modern_tools_list_needs_result_type_and_cache_hints() -> None:
    """2026-07-28 requires resultType, ttlMs and cacheScope on tools/list; the error names them."""
    with pytest.raises(OracleError) as refused:
        server_result("tools/list", "2026-07-28", {"tools": [TOOL]})
    for field in ("resultType", "ttlMs", "cacheScope"):
        assert field in str(refused.value)
    dumped = server_result("tools/list", "2026-07-28", {"tools": [TOOL], "resultType": "complete", **CACHE})
    assert dumped["tools"][0]["name"] == "chat"


def test_a_legacy_tools_list_is_judged_by_its_own_revision() -> None:
    """The same list without 2026 fields is a valid 2025-11-25 answer."""
    assert server_result("tools/list", "2025-11-25", {"tools": [TOOL]})["tools"][0]["name"] == "chat"


def test_a_2025_task_answer_to_tools_call_is_outside_the_core_schema() -> None:
    """`{task}` is not a CallToolResult (content required), as mcp 2.x's own sieve says."""
    task = {"taskId": "t", "status": "working", "createdAt": "2026-01-01T00:00:00Z"}
    with pytest.raises(OracleError, match="content"):
        server_result("tools/call", "2025-11-25", {"task": task})


def test_extension_results_and_removed_methods_have_no_schema() -> None:
    """resultType "task", tasks/get and ping on 2026 raise NoSchema instead of passing unchecked."""
    with pytest.raises(NoSchema):
        server_result("tools/call", "2026-07-28", {"resultType": "task", "taskId": "t"})
    with pytest.raises(NoSchema):
        server_result("tasks/get", "2026-07-28", {"resultType": "complete"})
    assert not has_schema("ping", "2026-07-28")
    assert has_schema("ping", "2025-11-25")


def test_unknown_versions_are_refused() -> None:
    """A version string the schema does not know is an oracle error, not a silent pass."""
    with pytest.raises(OracleError, match="2099-01-01"):
        server_result("tools/list", "2099-01-01", {"tools": []})


def test_progress_notifications_need_a_token_and_a_number() -> None:
    """notifications/progress without progressToken is refused; with it, parsed."""
    with pytest.raises(OracleError, match="progressToken"):
        server_notification("notifications/progress", "2026-07-28", {"progress": 1})
    params = {"progressToken": "p", "progress": 1}
    parsed = server_notification("notifications/progress", "2026-07-28", params)
    assert parsed.params.progress == 1


def test_unsupported_version_errors_must_carry_supported_and_requested() -> None:
    """-32022 is checked for its mandated data."""
    with pytest.raises(OracleError, match="supported"):
        error_object({"code": -32022, "message": "unsupported", "data": {"requested": "1999-01-01"}})
    good = {"code": -32022, "message": "unsupported", "data": {"supported": ["2026-07-28"], "requested": "x"}}
    assert error_object(good).code == -32022


def test_frames_are_checked_envelope_first_then_body() -> None:
    """A frame without jsonrpc is refused; a response is judged against the method it answers."""
    with pytest.raises(OracleError, match="JSON-RPC"):
        server_frame(json.dumps({"id": 1, "result": {}}), "2025-11-25", method="ping")
    frame = json.dumps({"jsonrpc": "2.0", "id": 1, "result": {"tools": [TOOL]}})
    server_frame(frame, "2025-11-25", method="tools/list")
    with pytest.raises(OracleError, match="method="):
        server_frame(frame, "2025-11-25")
    error = {"jsonrpc": "2.0", "id": 2, "error": {"code": -32601, "message": "Method not found"}}
    assert server_frame(error, "2026-07-28").code == -32601
