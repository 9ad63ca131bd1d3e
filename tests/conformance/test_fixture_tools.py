"""The fixture pack's tools at the worker level: run by the real Runner on real Redis, as on a worker."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any, cast

import pytest
import redis
from celery import Task

from contracts.job import Job, Outcome, ProgressEvent, ResultEvent, decode_event
from contracts.names import CANCEL_CHANNEL, LIST_CHANGED_CHANNEL, cancel_key
from contracts.settings import load_settings
from tests.conformance.fixture_pack import PNG_BASE64, WAV_BASE64
from tests.conformance.fixture_tools import IMPLEMENTATIONS
from tests.support.channels import listen, messages
from tests.workers.redis_fixture import redis_client
from workers import outcomes
from workers.cancel_listener import CancelListener
from workers.claims import Claims
from workers.runner import Runner

__all__ = ["redis_client"]
SETTINGS = load_settings(exai_progress_min_interval_s=0)
TASK = cast(
    Task, SimpleNamespace(request=SimpleNamespace(retries=0), retry=lambda **_: RuntimeError("no retry"))
)
EVERYTHING = {"elicitation": {}, "sampling": {}, "roots": {"listChanged": True}}
REPLY = "exai:reply:fixture-test"


@pytest.fixture
def client(redis_client: redis.Redis) -> Iterator[redis.Redis]:
    redis_client.flushdb()
    yield redis_client


@pytest.fixture
def runner(client: redis.Redis) -> Runner:
    def no_provider(name: str) -> Any:
        pytest.fail(f"a fixture tool asked for provider {name}")

    return Runner(
        SETTINGS, client, CancelListener(client), no_provider, Claims(client, 15, owner="fixture-worker")
    )


class Call:
    """One call of a fixture tool, round after round, as the gateway would send its jobs."""

    def __init__(
        self, runner: Runner, tool: str, arguments: dict[str, Any] | None = None, **job: Any
    ) -> None:
        self.runner, self.tool = runner, tool
        self.job = Job(
            call_id=uuid.uuid4().hex,
            tool=tool,
            arguments=arguments or {},
            reply_to=REPLY,
            deadline=time.time() + 60,
            correlation_id="corr-fixture",
            **job,
        )

    def run(self, answers: dict[str, Any] | None = None) -> Outcome:
        """Run the next round with ``answers``; the outcome it ended with (interim or final)."""
        if answers is not None:
            interim = outcomes.load_interim(self.runner.redis, self.job.call_id, self.job.round)
            assert interim is not None, "no round asked for input"
            self.job = self.job.model_copy(
                update={
                    "round": self.job.round + 1,
                    "input_responses": answers,
                    "continuation": interim.continuation,
                }
            )
        self.runner.run(TASK, self.job.model_dump(), IMPLEMENTATIONS[self.tool])
        found = outcomes.load_interim(self.runner.redis, self.job.call_id, self.job.round)
        return found or cast(Outcome, outcomes.load(self.runner.redis, self.job.call_id))


def accept(**content: Any) -> dict[str, Any]:
    return {"action": "accept", "content": content}


def test_content_tools_answer_with_exactly_the_blocks_the_suite_expects(runner: Runner) -> None:
    """Text, image, audio, embedded resource and the mixed answer, block for block."""
    assert Call(runner, "test_simple_text").run().content == [
        {"type": "text", "text": "This is a simple text response for testing."}
    ]
    assert Call(runner, "test_image_content").run().content == [
        {"type": "image", "data": PNG_BASE64, "mimeType": "image/png"}
    ]
    assert Call(runner, "test_audio_content").run().content == [
        {"type": "audio", "data": WAV_BASE64, "mimeType": "audio/wav"}
    ]
    (embedded,) = Call(runner, "test_embedded_resource").run().content or []
    assert embedded["resource"] == {
        "uri": "test://embedded-resource",
        "mimeType": "text/plain",
        "text": "This is an embedded resource content.",
    }
    mixed = Call(runner, "test_multiple_content_types").run().content or []
    assert [block["type"] for block in mixed] == ["text", "image", "resource"]
    assert mixed[2]["resource"]["text"] == '{"test": "data", "value": 123}'


def test_the_error_tool_is_a_tool_error_with_the_suites_text(runner: Runner) -> None:
    """isError with the exact message, a complete outcome (not a protocol error)."""
    outcome = Call(runner, "test_error_handling").run()
    assert outcome.is_error and outcome.kind == "complete"
    assert outcome.text == "This tool intentionally returns an error for testing"


def test_progress_is_reported_three_times_increasing_through_the_normal_path(
    runner: Runner, client: redis.Redis
) -> None:
    """0, 50, 100 of 100 on the caller's reply channel, then the result."""
    pubsub = listen(client, REPLY)
    Call(runner, "test_tool_with_progress").run()
    events = [decode_event(raw) for raw in messages(pubsub, 4)]
    progress = [e for e in events if isinstance(e, ProgressEvent)]
    assert [(e.progress, e.total) for e in progress] == [(0, 100), (50, 100), (100, 100)]
    assert isinstance(events[-1], ResultEvent)


def test_log_messages_go_out_before_the_result_only_when_the_caller_listens(
    runner: Runner, client: redis.Redis
) -> None:
    """test_tool_with_logging sends three info logs with Job.log; test_logging_tool none without it."""
    pubsub = listen(client, REPLY)
    Call(runner, "test_tool_with_logging", log=True).run()
    events = [decode_event(raw) for raw in messages(pubsub, 4)]
    logs = [e.log for e in events if isinstance(e, ProgressEvent)]
    assert [(log or {}).get("data") for log in logs] == [
        "Tool execution started",
        "Tool processing data",
        "Tool execution completed",
    ]
    assert all((log or {})["level"] == "info" for log in logs) and isinstance(events[-1], ResultEvent)
    Call(runner, "test_logging_tool").run()
    (only,) = [decode_event(raw) for raw in messages(pubsub, 1)]
    assert isinstance(only, ResultEvent) and only.outcome.text == "Logging evaluated"


def test_the_capability_tool_is_32021_without_sampling_and_succeeds_with_it(runner: Runner) -> None:
    """test_missing_capability: requiredCapabilities {sampling: {}} when undeclared."""
    refused = Call(runner, "test_missing_capability").run()
    assert refused.kind == "protocol_error" and refused.error is not None
    assert (refused.error["code"], refused.error["data"]) == (
        -32021,
        {"requiredCapabilities": {"sampling": {}}},
    )
    assert (
        Call(runner, "test_missing_capability", client_capabilities={"sampling": {}}).run().text == "Success"
    )


def test_the_list_change_hooks_publish_what_changed(runner: Runner, client: redis.Redis) -> None:
    """test_trigger_tool_change publishes "tools", test_trigger_prompt_change "prompts"."""
    pubsub = listen(client, LIST_CHANGED_CHANNEL)
    assert Call(runner, "test_trigger_tool_change").run().text == "Mutation triggered"
    Call(runner, "test_trigger_prompt_change").run()
    assert messages(pubsub, 2) == ["tools", "prompts"]


def test_the_elicitation_round_trip_asks_again_until_it_gets_a_name(runner: Runner) -> None:
    """user_name asked; a wrong key or a number is asked again; extra keys are ignored."""
    call = Call(runner, "test_input_required_result_elicitation", client_capabilities=EVERYTHING)
    first = call.run()
    assert first.kind == "input_required" and list(first.input_requests or {}) == ["user_name"]
    assert (first.input_requests or {})["user_name"]["params"]["message"] == "What is your name?"
    assert call.run({"wrong_key": accept(name="x")}).kind == "input_required"
    assert call.run({"user_name": 12345}).kind == "input_required"
    done = call.run({"user_name": accept(name="Alice"), "unexpected": accept(foo="bar")})
    assert (done.kind, done.text) == ("complete", "Hello, Alice!")


def test_sampling_and_roots_rounds_use_the_suites_keys(runner: Runner) -> None:
    """capital_question (sampling/createMessage) and client_roots (roots/list)."""
    sampling = Call(runner, "test_input_required_result_sampling", client_capabilities=EVERYTHING)
    asked = sampling.run()
    assert (asked.input_requests or {})["capital_question"]["method"] == "sampling/createMessage"
    answer = {
        "role": "assistant",
        "content": {"type": "text", "text": "Paris"},
        "model": "m",
        "stopReason": "endTurn",
    }
    assert sampling.run({"capital_question": answer}).text == "Sampling result: Paris"
    roots = Call(runner, "test_input_required_result_list_roots", client_capabilities=EVERYTHING)
    assert (roots.run().input_requests or {})["client_roots"] == {"method": "roots/list", "params": {}}
    found = roots.run({"client_roots": {"roots": [{"uri": "file:///test/root", "name": "Test Root"}]}})
    assert found.text == "Found 1 root(s): file:///test/root"


def test_request_state_and_multi_round_tools_get_their_continuation_back(runner: Runner) -> None:
    """state-ok once the continuation comes back; three rounds with an evolving continuation."""
    stateful = Call(runner, "test_input_required_result_request_state", client_capabilities=EVERYTHING)
    assert stateful.run().continuation == {"kind": "request-state"}
    assert stateful.run({"confirm": accept(ok=True)}).text == "state-ok: requestState validated"
    rounds = Call(runner, "test_input_required_result_multi_round", client_capabilities=EVERYTHING)
    one = rounds.run()
    two = rounds.run({"step1": accept(name="Ada")})
    assert (one.continuation, two.continuation) == ({"round": 1}, {"round": 2, "name": "Ada"})
    assert list(two.input_requests or {}) == ["step2"]
    assert rounds.run({"step2": accept(color="green")}).text == "Multi-round complete for Ada who likes green"


def test_multiple_inputs_are_asked_at_once_and_only_through_declared_capabilities(runner: Runner) -> None:
    """All three with everything declared; sampling only when the client declared sampling alone."""
    call = Call(runner, "test_input_required_result_multiple_inputs", client_capabilities=EVERYTHING)
    assert set(call.run().input_requests or {}) == {"user_name", "greeting", "client_roots"}
    greeting = {"role": "assistant", "content": {"type": "text", "text": "Hello there!"}, "model": "m"}
    answers = {"user_name": accept(name="Alice"), "greeting": greeting, "client_roots": {"roots": []}}
    assert call.run(answers).text == "Name: Alice; Greeting: Hello there!; Roots: 0"
    sampling_only = Call(
        runner, "test_input_required_result_capabilities", client_capabilities={"sampling": {}}
    )
    asked = sampling_only.run()
    assert [r["method"] for r in (asked.input_requests or {}).values()] == ["sampling/createMessage"]
    assert sampling_only.run({"sample_input": greeting}).text == "capabilities-ok: received sample_input"
    assert (
        Call(runner, "test_input_required_result_capabilities").run().text
        == "No supported capabilities declared"
    )


def test_the_signed_state_tool_completes_with_its_own_continuation(runner: Runner) -> None:
    """integrity-ok when the verified continuation and the confirmation come back."""
    call = Call(runner, "test_input_required_result_tampered_state", client_capabilities=EVERYTHING)
    assert call.run().continuation == {"kind": "tamper-test"}
    assert call.run({"confirm": accept(ok=True)}).text == "integrity-ok: state verified"


def test_legacy_sampling_and_elicitation_tools_quote_the_clients_answer(runner: Runner) -> None:
    """The 2025 tools ask with NeedInput too; the gateway turns it into server→client requests."""
    sampling = Call(runner, "test_sampling", {"prompt": "Test prompt"}, client_capabilities=EVERYTHING)
    params = (sampling.run().input_requests or {})["sampling"]["params"]
    assert params["messages"][0]["content"]["text"] == "Test prompt" and params["maxTokens"] == 100
    reply = {"role": "assistant", "content": {"type": "text", "text": "a test response"}, "model": "m"}
    assert sampling.run({"sampling": reply}).text == "LLM response: a test response"
    elicit = Call(runner, "test_elicitation", {"message": "Your name?"}, client_capabilities=EVERYTHING)
    assert (elicit.run().input_requests or {})["response"]["params"]["message"] == "Your name?"
    assert elicit.run({"response": {"action": "decline"}}).text == "User response: action=decline, content={}"
    defaults = Call(runner, "test_elicitation_sep1034_defaults", client_capabilities=EVERYTHING)
    form = (defaults.run().input_requests or {})["form"]["params"]["requestedSchema"]["properties"]
    assert form["age"]["default"] == 30 and form["status"]["enum"] == ["active", "inactive", "pending"]
    done = defaults.run({"form": accept(name="Jane")})
    assert done.text == 'Elicitation completed: action=accept, content={"name": "Jane"}'


def test_slow_compute_honours_cancellation_while_it_sleeps(runner: Runner, client: redis.Redis) -> None:
    """A 60 s computation, cancelled as a gateway cancels, ends CANCELLED within seconds."""
    runner.listener.start()
    call = Call(runner, "slow_compute", {"seconds": 60, "label": "cancel-me"})
    pubsub = listen(client, REPLY)
    worker = threading.Thread(target=call.run, daemon=True)
    started = time.monotonic()
    worker.start()
    messages(pubsub, 1)  # its first progress report: it is running
    client.set(cancel_key(call.job.call_id), 1, ex=60)
    client.publish(CANCEL_CHANNEL, call.job.call_id)
    worker.join(timeout=10)
    assert not worker.is_alive() and time.monotonic() - started < 10
    outcome = outcomes.load(client, call.job.call_id)
    assert outcome is not None and outcome.error_code == "CANCELLED"


def test_slow_compute_with_zero_seconds_answers_at_once(runner: Runner) -> None:
    """The immediate shortcut: seconds 0 finishes without waiting."""
    assert (
        Call(runner, "slow_compute", {"seconds": 0, "label": "instant"}).run().text
        == "instant: computed for 0 s"
    )


def test_failing_and_protocol_error_jobs_end_as_the_tasks_scenarios_expect(runner: Runner) -> None:
    """failing_job: a tool error (task completed + isError); protocol_error_job: a -32603 protocol error."""
    failed = Call(runner, "failing_job").run()
    assert failed.kind == "complete" and failed.is_error
    broken = Call(runner, "protocol_error_job").run()
    assert broken.kind == "protocol_error" and broken.error is not None and broken.error["code"] == -32603


def test_task_fixtures_ask_while_running_and_finish_with_the_answers(runner: Runner) -> None:
    """confirm_delete asks once; multi_input asks two questions at once; test_tool_with_task uses the name."""
    confirm = Call(runner, "confirm_delete", {"filename": "rt.txt"}, client_capabilities=EVERYTHING)
    assert list(confirm.run().input_requests or {}) == ["confirm"]
    assert confirm.run({"confirm": accept(confirm=True)}).text.startswith("Deleted rt.txt")
    both = Call(runner, "multi_input", client_capabilities=EVERYTHING)
    assert sorted(both.run().input_requests or {}) == ["first", "second"]
    answers = {
        "first": accept(name="partial-1", confirm=True),
        "second": accept(name="partial-2", confirm=True),
    }
    assert both.run(answers).text == "Got partial-1 and partial-2"
    task = Call(runner, "test_tool_with_task", client_capabilities=EVERYTHING)
    assert list(task.run().input_requests or {}) == ["user_name"]
    assert "Alice" in task.run({"user_name": accept(name="Alice")}).text


def test_greet_and_the_schema_tool_echo_their_arguments(runner: Runner) -> None:
    """greet is "Hello, <name>!"; the 2020-12 tool repeats what it was called with."""
    assert Call(runner, "greet", {"name": "World"}).run().text == "Hello, World!"
    echoed = Call(runner, "json_schema_2020_12_tool", {"name": "n", "email": "e@x"}).run().text
    assert echoed == 'JSON Schema 2020-12 tool called with: {"email": "e@x", "name": "n"}'
