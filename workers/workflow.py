"""The workflow engine every multi-step tool shares.

The caller drives a workflow: each call is one step (what was done, findings, files checked,
relevant files, issues, confidence, hypothesis). Steps are kept in the conversation thread, so a
workflow spans calls through ``continuation_id``; ``backtrack_from_step`` discards a step and every
later one, and a step sent twice (a retry) replaces the first copy. Between steps the answer tells
the caller what to do next, with no model call. On the final step the tool's ``finish`` runs; the
default asks an "expert" model (EXAI_EXPERT_ENABLED, per call ``use_assistant_model``) to analyse
everything gathered, within EXAI_EXPERT_MAX_TOKENS of prompt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from contracts.errors import InvalidArguments
from workers.budget import estimate_tokens
from workers.context import ToolContext
from workers.conversation import Conversation, open_conversation
from workers.envelope import answer_envelope
from workers.files import EmbeddedFile, check_texts, files_block, labelled, read_labelled
from workers.model_call import Ask, ask, need_of

STEP_KEYS = (
    "step",
    "step_number",
    "total_steps",
    "next_step_required",
    "findings",
    "files_checked",
    "relevant_files",
    "relevant_context",
    "issues_found",
    "confidence",
    "hypothesis",
    "is_step_revision",
    "revises_step_number",
    "is_branch_point",
    "branch_from_step",
    "branch_id",
)

Finish = Callable[["WorkflowRun"], dict[str, Any]]


@dataclass(frozen=True)
class WorkflowTool:
    name: str
    expert_prompt: str  # the expert model's system prompt
    next_actions: tuple[str, ...]  # what the caller should do before the next step
    extra_fields: tuple[str, ...] = ()  # tool-specific arguments shown to the expert
    expert: bool = True  # whether the final step asks an expert model by default
    need: str = "reasoning"  # what `auto` picks the expert model for (see workers.routing)
    finish: Finish | None = None  # replaces the expert step entirely (planner, consensus)
    expert_allowed: Callable[[dict[str, Any]], bool] = lambda _args: True
    # Runs on every step after it is recorded, and may add tool-specific fields to the result.
    decorate: Callable[[WorkflowRun, dict[str, Any]], None] | None = None


@dataclass
class WorkflowRun:
    ctx: ToolContext
    tool: WorkflowTool
    args: dict[str, Any]
    conversation: Conversation
    steps: list[dict[str, Any]] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)  # tool state kept across steps (branches)

    @property
    def step_number(self) -> int:
        return int(self.args["step_number"])

    def aggregate(self) -> dict[str, Any]:
        files_checked: list[str] = []
        relevant: list[str] = []
        issues: list[dict[str, Any]] = []
        seen_issues: set[str] = set()
        for step in self.steps:
            files_checked.extend(f for f in step.get("files_checked") or [] if f not in files_checked)
            relevant.extend(f for f in step.get("relevant_files") or [] if f not in relevant)
            for issue in step.get("issues_found") or []:
                if issue["description"] not in seen_issues:
                    seen_issues.add(issue["description"])
                    issues.append(issue)
        last = self.steps[-1] if self.steps else {}
        return {
            "steps_recorded": len(self.steps),
            "files_checked": files_checked,
            "relevant_files": relevant,
            "issues_found": issues,
            "confidence": last.get("confidence") or "exploring",
            "hypothesis": next((s["hypothesis"] for s in reversed(self.steps) if s.get("hypothesis")), None),
        }

    def named_files(self) -> list[tuple[str, object]]:
        """Every relevant file of the steps, then the call's own ``files``, each once, labelled with
        the argument that named it (what errors about it say)."""
        out: list[tuple[str, object]] = []
        seen: set[object] = set()
        named = [
            (f"relevant_files[{index}] (step {step['step_number']})", raw)
            for step in self.steps
            for index, raw in enumerate(step.get("relevant_files") or [])
        ]
        for label, raw in [*named, *labelled("files", self.args.get("files") or [])]:
            if raw not in seen:
                seen.add(raw)
                out.append((label, raw))
        return out

    def summary(self) -> str:
        """Everything gathered, as text for the expert model or the caller."""
        lines = [f"# {self.tool.name}: {len(self.steps)} steps"]
        extras = {k: self.args[k] for k in self.tool.extra_fields if k in self.args}
        if extras:
            lines.append("Parameters: " + ", ".join(f"{k}={v}" for k, v in extras.items()))
        for step in self.steps:
            lines.append(f"\n## Step {step['step_number']}: {step.get('step', '')}")
            if step.get("findings"):
                lines.append(f"Findings: {step['findings']}")
            if step.get("hypothesis"):
                lines.append(f"Hypothesis: {step['hypothesis']}")
            if step.get("relevant_context"):
                lines.append("Relevant context: " + ", ".join(step["relevant_context"]))
        state = self.aggregate()
        if state["issues_found"]:
            lines.append("\n## Issues found")
            lines.extend(f"- [{i['severity']}] {i['description']}" for i in state["issues_found"])
        lines.append(f"\nConfidence: {state['confidence']}")
        return "\n".join(lines)


def _step_record(args: dict[str, Any]) -> dict[str, Any]:
    return {k: args[k] for k in STEP_KEYS if k in args}


def apply_step(steps: list[dict[str, Any]], args: dict[str, Any]) -> list[dict[str, Any]]:
    number = int(args["step_number"])
    backtrack = args.get("backtrack_from_step")
    if backtrack is not None:
        if backtrack > number:
            raise InvalidArguments(
                f"backtrack_from_step ({backtrack}) must not be after step_number ({number})"
            )
        steps = [s for s in steps if s["step_number"] < backtrack]
    # A step sent again (a retried call, a revision) replaces its earlier copy.
    steps = [s for s in steps if s["step_number"] != number]
    steps.append(_step_record(args))
    steps.sort(key=lambda s: s["step_number"])
    return steps


def run_workflow(ctx: ToolContext, args: dict[str, Any], tool: WorkflowTool) -> dict[str, Any]:
    if args["step_number"] > args["total_steps"]:
        args = {**args, "total_steps": args["step_number"]}  # the caller underestimated; go on
    # Paths recorded now are read only at the final step: refuse the impossible ones at once.
    check_texts(
        [
            *labelled("relevant_files", args.get("relevant_files") or []),
            *labelled("files_checked", args.get("files_checked") or []),
        ]
    )
    conversation = open_conversation(ctx, args, tool.name)
    previous = conversation.thread.state if conversation.thread is not None else {}
    same_tool = previous.get("tool") == tool.name
    run = WorkflowRun(
        ctx,
        tool,
        args,
        conversation,
        steps=list(previous.get("steps", [])) if same_tool else [],
        extras=dict(previous.get("extras", {})) if same_tool else {},
    )
    run.steps = apply_step(run.steps, args)
    ctx.progress(float(run.step_number), float(args["total_steps"]), f"{tool.name} step {run.step_number}")
    if args["next_step_required"]:
        result = _pause(run)
    elif tool.finish is not None:
        result = tool.finish(run)
    else:
        result = _finish_with_expert(run)
    if tool.decorate is not None:
        tool.decorate(run, result)
    state = {"tool": tool.name, "steps": run.steps, "extras": run.extras}
    offer = conversation.record(
        f"step {run.step_number}: {args['step']}\n{args.get('findings', '')}",
        result["content"],
        provider=result["metadata"].get("provider"),
        model=result["metadata"].get("model"),
        state=state,
        files=list(dict.fromkeys([*(args.get("relevant_files") or []), *(args.get("files") or [])])),
    )
    result["continuation_offer"] = offer
    return result


def _base(run: WorkflowRun, status: str, content: str) -> dict[str, Any]:
    return {
        "status": status,
        "content": content,
        "content_type": "markdown",
        "metadata": {"provider": None, "model": None, "tool_name": run.tool.name},
        "step_number": run.step_number,
        "total_steps": run.args["total_steps"],
        "next_step_required": run.args["next_step_required"],
        "workflow_state": run.aggregate(),
        "expert_analysis": None,
    }


def _pause(run: WorkflowRun) -> dict[str, Any]:
    number, total = run.step_number, run.args["total_steps"]
    actions = list(run.tool.next_actions)
    content = (
        f"Step {number} of {total} of {run.tool.name} recorded. Before calling {run.tool.name} again "
        f"with step_number {number + 1} and the continuation_id below:\n"
        + "\n".join(f"- {a}" for a in actions)
    )
    result = _base(run, f"pause_for_{run.tool.name}", content)
    result["required_actions"] = actions
    return result


def _expert_files(run: WorkflowRun, budget_tokens: int) -> tuple[list[EmbeddedFile], list[str]]:
    """The relevant files that fit the expert budget, and the names of those left out."""
    files = read_labelled(run.named_files(), run.ctx.settings)
    kept: list[EmbeddedFile] = []
    left_out: list[str] = []
    used = 0
    for file in files:
        cost = estimate_tokens(file.text)
        if used + cost > budget_tokens:
            left_out.append(file.path)
            continue
        kept.append(file)
        used += cost
    return kept, left_out


def _finish_with_expert(run: WorkflowRun) -> dict[str, Any]:
    args = run.args
    state = run.aggregate()
    # EXAI_EXPERT_ENABLED is the server's switch; use_assistant_model chooses per call within it.
    wanted = run.ctx.settings.exai_expert_enabled and args.get("use_assistant_model", run.tool.expert)
    summary = run.summary()
    if not wanted or state["confidence"] == "certain" or not run.tool.expert_allowed(args):
        reason = "confidence is certain" if state["confidence"] == "certain" else "no expert requested"
        result = _base(
            run, f"{run.tool.name}_complete", f"{summary}\n\n({reason}; no expert model was asked)"
        )
        return result
    budget = run.ctx.settings.exai_expert_max_tokens - estimate_tokens(summary) - 500
    if budget < 0:
        raise InvalidArguments(
            f"the findings are about {estimate_tokens(summary):,} tokens, more than the expert budget "
            f"of {run.ctx.settings.exai_expert_max_tokens:,} (EXAI_EXPERT_MAX_TOKENS): summarise them"
        )
    files, left_out = _expert_files(run, budget)
    note = f"\n\n(Left out to fit the budget: {', '.join(left_out)})" if left_out else ""
    prompt = f"{files_block(files)}\n\n{summary}{note}\n\nGive your expert analysis."
    run.ctx.progress(
        float(run.step_number) + 0.5, None, f"{run.tool.name}: asking the expert model", force=True
    )
    answer = ask(
        run.ctx,
        Ask(
            build=lambda _model: [
                {"role": "system", "content": run.tool.expert_prompt},
                {"role": "user", "content": prompt},
            ],
            model=args.get("model"),
            need=need_of(args, run.tool.need),
            temperature=args.get("temperature"),
            thinking_mode=args.get("thinking_mode"),
            use_websearch=bool(args.get("use_websearch")),
        ),
    )
    expert = {
        "status": "analysis_complete",
        "content": answer.reply.text,
        "provider": answer.model.provider,
        "model": answer.reply.model,
        "files_embedded": [f.path for f in files],
        "files_left_out": left_out,
    }
    envelope = answer_envelope(
        answer,
        f"{summary}\n\n## Expert analysis ({answer.model.provider}/{answer.reply.model})\n\n"
        + answer.reply.text,
        None,
        status=f"{run.tool.name}_complete",
    )
    base = _base(run, f"{run.tool.name}_complete", envelope["content"])
    base["metadata"] = {**envelope["metadata"], "tool_name": run.tool.name}
    base["expert_analysis"] = expert
    base["reasoning_content"] = envelope["reasoning_content"]
    return base
