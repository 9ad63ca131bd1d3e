"""From a tool's answer to its Outcome, without Redis: envelopes, blocks, questions, protocol errors."""

from __future__ import annotations

import json
import time

from contracts.answers import NeedInput, ProtocolFailure, elicitation, list_roots, reply, text_block
from contracts.job import Job
from workers import answers


def job(**fields: object) -> Job:
    return Job(call_id="c", tool="t", deadline=time.time() + 60, correlation_id="corr-c", **fields)  # type: ignore[arg-type]


def test_an_envelope_is_stored_as_structured_content_and_repeated_as_json_text() -> None:
    """The built-in tools: structured is the envelope (correlation id, attempts added), text its JSON."""
    outcome = answers.outcome_of(job(), {"status": "success", "content": "hi", "metadata": {}}, 1, 0.5)
    assert outcome.structured is not None and outcome.structured["metadata"]["attempts"] == 2
    assert json.loads(outcome.text) == outcome.structured and outcome.content is None


def test_content_blocks_keep_their_order_and_a_tool_error_gets_its_code() -> None:
    """A Reply becomes content; is_error a TOOL_ERROR that stays a complete outcome."""
    outcome = answers.outcome_of(job(), reply(text_block("a"), text_block("b"), is_error=True), 0, 0.1)
    assert outcome.content == [text_block("a"), text_block("b")] and outcome.text == "a\nb"
    assert (outcome.kind, outcome.is_error, outcome.error_code) == ("complete", True, "TOOL_ERROR")


def test_a_question_through_declared_capabilities_is_an_interim_outcome_of_its_round() -> None:
    """Elicitation and roots declared: input_required with the requests and the continuation."""
    need = NeedInput({"a": elicitation("?", {}), "b": list_roots()}, {"k": 1})
    outcome = answers.interim(job(client_capabilities={"elicitation": {}, "roots": {}}, round=2), need, 0)
    assert outcome.kind == "input_required" and set(outcome.input_requests or {}) == {"a", "b"}
    assert outcome.continuation == {"k": 1} and outcome.meta == {"round": 2}


def test_a_question_through_an_undeclared_capability_is_a_32021_protocol_error() -> None:
    """roots asked of a client that declared none: -32021 with requiredCapabilities {roots: {}}."""
    outcome = answers.interim(job(), NeedInput({"b": list_roots()}), 0)
    assert outcome.kind == "protocol_error" and outcome.is_error
    assert outcome.error is not None and outcome.error["data"] == {"requiredCapabilities": {"roots": {}}}


def test_only_a_job_that_declared_a_way_to_answer_may_have_asked() -> None:
    """may_ask is what makes the runner look for an earlier round's question; no capability, no look."""
    assert not answers.may_ask(job()) and not answers.may_ask(job(client_capabilities={"extensions": {}}))
    assert answers.may_ask(job(client_capabilities={"sampling": {}}))


def test_a_protocol_failure_keeps_its_code_message_and_data() -> None:
    """error {code, message, data}, error_code PROTOCOL_ERROR, attempts in meta."""
    outcome = answers.protocol_error(job(), ProtocolFailure(-32603, "m", {"x": 1}), 3)
    assert outcome.error == {"code": -32603, "message": "m", "data": {"x": 1}}
    assert outcome.error_code == "PROTOCOL_ERROR" and outcome.meta == {"attempts": 3}
