"""The shared workflow engine: step bookkeeping (replacing, backtracking) and the files its steps name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

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
