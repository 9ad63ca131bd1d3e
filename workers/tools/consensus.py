"""``consensus``: several models asked at once, each from its stance; failures degrade, not fail.

Earlier steps record the proposal and findings like any workflow; the final step sends one
``exai.consult`` task per model (see ``workers.consensus``) and gathers every answer.
"""

from __future__ import annotations

from typing import Any

from contracts.errors import InvalidArguments, RetriesExhausted
from workers.consensus import Consult, consult_all
from workers.context import ToolContext
from workers.files import files_block, read_labelled
from workers.workflow import WorkflowRun, WorkflowTool, run_workflow

STANCES = {
    "for": "Argue for the proposal: find its strengths and how to make it work, but do not hide real "
    "problems.",
    "against": "Argue against the proposal: find its weaknesses, risks and better alternatives, but "
    "acknowledge what is genuinely good.",
    "neutral": "Weigh the proposal evenly: its benefits, costs, risks and alternatives.",
}
SYSTEM = (
    "You are one of several expert models asked for an opinion on a proposal. {stance} Give a clear "
    "verdict first, then your reasons, then concrete recommendations."
)


def _finish(run: WorkflowRun) -> dict[str, Any]:
    ctx, args = run.ctx, run.args
    entries = args["models"]
    limit = ctx.settings.exai_consensus_max_models
    if len(entries) > limit:
        raise InvalidArguments(f"consensus takes at most {limit} models (EXAI_CONSENSUS_MAX_MODELS)")
    files = read_labelled(run.named_files(), ctx.settings)
    proposal = f"{files_block(files)}\n\n{run.summary()}".strip()
    consults = []
    for index, entry in enumerate(entries):
        stance = entry.get("stance", "neutral")
        instructions = SYSTEM.format(stance=entry.get("stance_prompt") or STANCES[stance])
        consults.append(
            Consult(
                sub_id=f"{ctx.call_id}:{index}",
                model=entry["model"],
                stance=stance,
                messages=[
                    {"role": "system", "content": instructions},
                    {"role": "user", "content": proposal},
                ],
            )
        )
    options = {"temperature": args.get("temperature"), "thinking_mode": args.get("thinking_mode")}
    results = consult_all(ctx, consults, options)
    ok = [r for r in results if r["status"] == "success"]
    if not ok:
        problems = "; ".join(f"{r['model']}: {r.get('error')}" for r in results)
        raise RetriesExhausted(f"every model consulted failed: {problems}")
    sections = []
    for r in results:
        head = f"## {r['model']} ({r['stance']})"
        if r["status"] == "success":
            sections.append(f"{head} - {r.get('provider')}/{r.get('model')}\n\n{r['content']}")
        else:
            sections.append(f"{head} - unavailable\n\n{r.get('error')}")
    failed = [r["model"] for r in results if r["status"] != "success"]
    note = (
        f"\n\n{len(failed)} of {len(results)} models could not answer: {', '.join(failed)}." if failed else ""
    )
    consulted = [
        {
            "model": r["model"],
            "provider": r.get("provider"),
            "stance": r["stance"],
            "status": r["status"],
            "content": r.get("content", ""),
            "error": r.get("error"),
        }
        for r in results
    ]
    first = ok[0]
    usage = {
        key: sum(r.get("usage", {}).get(key, 0) for r in ok)
        for key in ("prompt_tokens", "completion_tokens", "total_tokens")
    }
    return {
        "status": "consensus_complete" if not failed else "consensus_partial",
        "content": "\n\n".join(sections) + note,
        "content_type": "markdown",
        "metadata": {
            "provider": first.get("provider"),
            "model": first.get("model"),
            "usage": usage,
            "tool_name": "consensus",
            "models_consulted": [r["model"] for r in ok],
            "models_failed": failed,
        },
        "step_number": run.step_number,
        "total_steps": args["total_steps"],
        "next_step_required": False,
        "workflow_state": run.aggregate(),
        "expert_analysis": None,
        "consulted": consulted,
    }


CONSENSUS = WorkflowTool(
    "consensus",
    expert_prompt="",
    next_actions=(
        "Refine the proposal and gather the facts the models will need",
        "On the final step (next_step_required false) every model in 'models' is consulted at once",
    ),
    expert=False,
    finish=_finish,
)


def run(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    return run_workflow(ctx, args, CONSENSUS)
