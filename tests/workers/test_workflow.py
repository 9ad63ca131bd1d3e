"""The shared workflow engine's step bookkeeping: replacing, backtracking, aggregating."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.errors import InvalidArguments
from workers.workflow import apply_step


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
