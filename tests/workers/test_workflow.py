"""The shared workflow engine: step bookkeeping (replacing, backtracking) and the files its steps name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from contracts.answers import NeedInput
from contracts.errors import InvalidArguments
from contracts.settings import load_settings
from tests.workers.tool_context import CountingProvider, tool_context
from workers.tools.workflows import TOOLS
from workers.workflow import apply_step, run_workflow


def step(number: int, **extra: Any) -> dict[str, Any]:
    return {"step": f"s{number}", "step_number": number, "total_steps": 5, "next_step_required": True,
            "findings": f"f{number}", **extra}  # fmt: skip


def test_a_step_sent_again_replaces_its_first_copy() -> None:
    """A retried call does not record the same step twice."""
    steps = apply_step(apply_step([], step(1)), step(1, findings="better"))
    assert [(s["step_number"], s["findings"]) for s in steps] == [(1, "better")]


def test_backtracking_drops_the_step_and_everything_after_it() -> None:
    """backtrack_from_step=2 keeps step 1 and the new step only."""
    steps: list[dict[str, Any]] = []
    for number in (1, 2, 3):
        steps = apply_step(steps, step(number))
    steps = apply_step(steps, step(4, backtrack_from_step=2))
    assert [s["step_number"] for s in steps] == [1, 4]


def test_backtracking_past_the_current_step_is_refused() -> None:
    """A backtrack target after the step being sent is a caller error, said plainly."""
    with pytest.raises(InvalidArguments, match="backtrack_from_step"):
        apply_step([], step(2, backtrack_from_step=3))


def final_step(**extra: Any) -> dict[str, Any]:
    return {**step(1), "total_steps": 1, "next_step_required": False, "confidence": "high",
            "model": "kimi-k2.6", **extra}  # fmt: skip


def test_an_impossible_path_at_a_pause_step_is_refused_naming_its_argument(tmp_path: Path) -> None:
    """relevant_files are read only at the last step, but a NUL byte in one is refused at once."""
    ctx = tool_context(load_settings(exai_file_roots=str(tmp_path)), CountingProvider())
    with pytest.raises(InvalidArguments, match=r"^relevant_files\[1\]: '/x\\x00y' contains a NUL byte"):
        run_workflow(ctx, {**step(1), "relevant_files": ["/a.py", "/x\0y"]}, TOOLS["debug"])


def test_the_expert_step_embeds_the_relevant_files_of_every_step(tmp_path: Path) -> None:
    """The files named across the steps and in `files` reach the expert model, each once."""
    (tmp_path / "a.py").write_text("A_CONTENT")
    (tmp_path / "b.py").write_text("B_CONTENT")
    settings = load_settings(exai_file_roots=str(tmp_path), kimi_api_key="test-kimi-key-0123456789")
    provider = CountingProvider()
    args = final_step(relevant_files=[str(tmp_path / "a.py")], files=[str(tmp_path / "b.py")])
    result = run_workflow(tool_context(settings, provider), args, TOOLS["debug"])
    assert result["expert_analysis"]["files_embedded"] == [str(tmp_path / "a.py"), str(tmp_path / "b.py")]
    sent = provider.calls[0].messages[-1]["content"]
    assert "A_CONTENT" in sent and "B_CONTENT" in sent


def test_the_expert_step_refuses_a_secret_in_relevant_files_before_asking_a_model(tmp_path: Path) -> None:
    """`.env` named as a relevant file is refused under its argument's name; no provider call is made."""
    (tmp_path / ".env").write_text("KIMI_API_KEY=sk-live-1")
    settings = load_settings(exai_file_roots=str(tmp_path), kimi_api_key="test-kimi-key-0123456789")
    provider = CountingProvider()
    args = final_step(relevant_files=[str(tmp_path / ".env")])
    with pytest.raises(InvalidArguments, match=r"^relevant_files\[0\] \(step 1\): .*secret-file pattern"):
        run_workflow(tool_context(settings, provider), args, TOOLS["debug"])
    assert provider.calls == []


# --- the expert step asks the client for files (elicitation) when it can ----------------------
ELICITS = {"elicitation": {}}


def asking_context(
    settings: Any, provider: CountingProvider, capabilities: dict[str, Any], answers: Any = None
) -> Any:
    ctx = tool_context(settings, provider)
    ctx.job = ctx.job.model_copy(update={"client_capabilities": capabilities, "input_responses": answers})
    return ctx


def test_a_code_review_with_no_file_named_asks_the_client_which_files_before_any_model_call(
    tmp_path: Path,
) -> None:
    """codereview's final step, elicitation declared, no file anywhere: a form, no provider call."""
    settings = load_settings(exai_file_roots=str(tmp_path), kimi_api_key="test-kimi-key-0123456789")
    provider = CountingProvider()
    with pytest.raises(NeedInput) as asked:
        run_workflow(asking_context(settings, provider, ELICITS), final_step(), TOOLS["codereview"])
    form = asked.value.requests["expert_files"]
    assert form["method"] == "elicitation/create"
    assert "no step named a file" in form["params"]["message"]
    assert form["params"]["requestedSchema"]["properties"]["files"]["type"] == "string"
    assert asked.value.continuation == {"tool": "codereview", "step_number": 1}
    assert provider.calls == []


def test_the_files_chosen_in_the_form_reach_the_expert_and_are_reported(tmp_path: Path) -> None:
    """The next round carries the answer: both files are embedded, and listed as chosen in the form."""
    (tmp_path / "a.py").write_text("A_CONTENT")
    (tmp_path / "b.py").write_text("B_CONTENT")
    settings = load_settings(exai_file_roots=str(tmp_path), kimi_api_key="test-kimi-key-0123456789")
    provider = CountingProvider()
    chosen = f"{tmp_path / 'a.py'},\n {tmp_path / 'b.py'}"
    answers = {"expert_files": {"action": "accept", "content": {"files": chosen}}}
    ctx = asking_context(settings, provider, ELICITS, answers)
    result = run_workflow(ctx, final_step(), TOOLS["codereview"])
    expert = result["expert_analysis"]
    assert expert["files_from_form"] == [str(tmp_path / "a.py"), str(tmp_path / "b.py")]
    assert expert["files_embedded"] == expert["files_from_form"]
    sent = provider.calls[0].messages[-1]["content"]
    assert "A_CONTENT" in sent and "B_CONTENT" in sent


def test_a_file_chosen_in_the_form_obeys_the_same_rules_as_any_named_file(tmp_path: Path) -> None:
    """A secret file typed into the form is refused, named as the form's entry, before any model call."""
    (tmp_path / ".env").write_text("KIMI_API_KEY=sk-live-1")
    settings = load_settings(exai_file_roots=str(tmp_path), kimi_api_key="test-kimi-key-0123456789")
    provider = CountingProvider()
    answers = {"expert_files": {"action": "accept", "content": {"files": str(tmp_path / ".env")}}}
    with pytest.raises(InvalidArguments, match=r"^files entered in the form \(#1\): .*secret-file pattern"):
        run_workflow(asking_context(settings, provider, ELICITS, answers), final_step(), TOOLS["codereview"])
    assert provider.calls == []


@pytest.mark.parametrize(
    "answers",
    [
        {"expert_files": {"action": "decline"}},
        {"expert_files": {"action": "accept", "content": {"files": "  "}}},
    ],
)
def test_declining_or_leaving_the_form_empty_goes_on_with_the_notes_alone(
    tmp_path: Path, answers: Any
) -> None:
    """The user said no: the expert is asked without files, and nothing is asked again."""
    settings = load_settings(exai_file_roots=str(tmp_path), kimi_api_key="test-kimi-key-0123456789")
    provider = CountingProvider()
    result = run_workflow(
        asking_context(settings, provider, ELICITS, answers), final_step(), TOOLS["codereview"]
    )
    assert result["status"] == "codereview_complete" and result["expert_analysis"]["files_embedded"] == []
    assert len(provider.calls) == 1


def test_a_malformed_answer_asks_again(tmp_path: Path) -> None:
    """An answer that is not a form result (a number) is no answer: the form is sent again."""
    settings = load_settings(exai_file_roots=str(tmp_path), kimi_api_key="test-kimi-key-0123456789")
    ctx = asking_context(settings, CountingProvider(), ELICITS, {"expert_files": 12345})
    with pytest.raises(NeedInput):
        run_workflow(ctx, final_step(), TOOLS["codereview"])


@pytest.mark.parametrize(
    ("tool", "capabilities"), [("codereview", {}), ("codereview", {"sampling": {}}), ("debug", ELICITS)]
)
def test_without_elicitation_or_for_a_tool_that_reads_no_code_the_step_runs_as_before(
    tmp_path: Path, tool: str, capabilities: dict[str, Any]
) -> None:
    """No form can be shown (or none is needed): the expert is asked on the notes, as it always was."""
    settings = load_settings(exai_file_roots=str(tmp_path), kimi_api_key="test-kimi-key-0123456789")
    provider = CountingProvider()
    result = run_workflow(asking_context(settings, provider, capabilities), final_step(), TOOLS[tool])
    assert result["status"] == f"{tool}_complete" and len(provider.calls) == 1
