"""Outcomes as results: content blocks, structured results, protocol failures as errors."""

from __future__ import annotations

from contracts.job import Outcome
from gateway.core.outcomes import call_result, error_result, protocol_error


def test_an_outcome_without_blocks_is_one_text_block_and_rich_blocks_pass_through() -> None:
    """None → the text as one block; blocks as the worker made them."""
    assert call_result(Outcome(call_id="c", text="hi"))["content"] == [{"type": "text", "text": "hi"}]
    blocks = [{"type": "audio", "data": "AA", "mimeType": "audio/wav"}]
    result = call_result(Outcome(call_id="c", text="(audio)", content=blocks, structured={"a": 1}), "corr")
    assert result["content"] == blocks and result["structuredContent"] == {"a": 1}
    assert result["_meta"] == {"io.exai/call_id": "c", "io.exai/correlation_id": "corr"}


def test_a_protocol_failure_keeps_its_code_and_data_and_a_spec_code_gets_status_400() -> None:
    """-32021 travels as is, with HTTP 400; a failure without a usable code is -32603."""
    needs = protocol_error(
        Outcome(
            call_id="c",
            text="x",
            kind="protocol_error",
            error={"code": -32021, "message": "m", "data": {"d": 1}},
        )
    )
    assert (needs.code, needs.message, needs.data, needs.http_status) == (-32021, "m", {"d": 1}, 400)
    odd = protocol_error(Outcome(call_id="c", text="fallback", kind="protocol_error", error={"code": "x"}))
    assert (odd.code, odd.message, odd.http_status) == (-32603, "fallback", 200)


def test_an_error_result_names_what_to_do_and_carries_extra_meta() -> None:
    """isError with the text and _meta keys given."""
    result = error_result("retry later", "corr", **{"io.exai/retry_after_s": 1.0})
    assert result["isError"] is True and result["_meta"] == {
        "io.exai/retry_after_s": 1.0,
        "io.exai/correlation_id": "corr",
    }
