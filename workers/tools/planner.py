"""``planner``: a plan built step by step, with revisions of earlier steps and branches.

No model is called: the caller does the thinking, the server keeps the plan, its revisions and its
branches across calls and shows the whole plan back at every step.
"""

from __future__ import annotations

from typing import Any

from contracts.errors import InvalidArguments
from workers.context import ToolContext
from workers.workflow import WorkflowRun, WorkflowTool, run_workflow


def _plan(run: WorkflowRun) -> list[dict[str, Any]]:
    return [
        {
            "step_number": s["step_number"],
            "step": s.get("step", ""),
            "branch_id": s.get("branch_id"),
            "revises_step_number": s.get("revises_step_number") if s.get("is_step_revision") else None,
        }
        for s in run.steps
    ]


def _decorate(run: WorkflowRun, result: dict[str, Any]) -> None:
    args = run.args
    branches: dict[str, list[int]] = run.extras.setdefault("branches", {})
    if args.get("is_step_revision") and not args.get("revises_step_number"):
        raise InvalidArguments("is_step_revision needs revises_step_number")
    if args.get("branch_id"):
        if not args.get("branch_from_step") and args["branch_id"] not in branches:
            raise InvalidArguments("a new branch_id needs branch_from_step")
        numbers = branches.setdefault(args["branch_id"], [])
        if run.step_number not in numbers:
            numbers.append(run.step_number)
    result["plan"] = _plan(run)
    result["branches"] = branches
    lines = [
        f"{p['step_number']}. {p['step']}"
        + (f" (branch {p['branch_id']})" if p["branch_id"] else "")
        + (f" (revises step {p['revises_step_number']})" if p["revises_step_number"] else "")
        for p in result["plan"]
    ]
    heading = "Plan complete" if result["status"] == "planner_complete" else "Plan so far"
    result["content"] = f"{heading}:\n" + "\n".join(lines) + "\n\n" + result["content"]


def _finish(run: WorkflowRun) -> dict[str, Any]:
    return {
        "status": "planner_complete",
        "content": f"The plan has {len(run.steps)} steps; present it to the user and start on step 1.",
        "content_type": "markdown",
        "metadata": {"provider": None, "model": None, "tool_name": "planner"},
        "step_number": run.step_number,
        "total_steps": run.args["total_steps"],
        "next_step_required": False,
        "workflow_state": run.aggregate(),
        "expert_analysis": None,
    }


PLANNER = WorkflowTool(
    "planner",
    expert_prompt="",
    next_actions=(
        "Think about the next step of the plan; revise an earlier step or branch if needed",
        "Call planner again with the next step_number",
    ),
    expert=False,
    finish=_finish,
    decorate=_decorate,
)


def run(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    return run_workflow(ctx, args, PLANNER)
