"""Specs of the workflow tools: one shared step schema, plus each tool's own fields.

The caller drives a workflow step by step: each call reports one step (what was done, what was
found, which files were read, how confident it is) and says whether another step follows. The
final step may ask an "expert" model to analyse everything gathered.
"""

from __future__ import annotations

from typing import Any

from contracts.tool_specs.common import COMMON_INPUTS, PATHS, READ_ONLY_MODEL_CALL, input_schema
from contracts.tools import ToolSpec, envelope_schema

# A final step that asks a model (the expert, or consensus's models) runs for tens of seconds to
# minutes; every other step is bookkeeping answered at once. A hint for the task decision.
MODEL_STEP_S = 60.0
FINAL_STEP = {"next_step_required": False}

CONFIDENCE_LEVELS = ("exploring", "low", "medium", "high", "very_high", "almost_certain", "certain")
SEVERITIES = ("critical", "high", "medium", "low")

STEP_FIELDS: dict[str, Any] = {
    "step": {"type": "string", "minLength": 1, "description": "What this step did or plans to do."},
    "step_number": {"type": "integer", "minimum": 1},
    "total_steps": {"type": "integer", "minimum": 1, "description": "Current estimate; may change."},
    "next_step_required": {"type": "boolean", "description": "false on the final step."},
    "findings": {"type": "string", "description": "What this step found."},
    "files_checked": {**PATHS, "description": "Every file examined so far in this step."},
    "relevant_files": {**PATHS, "description": "Files that matter for the result (embedded at the end)."},
    "relevant_context": {
        "type": "array",
        "items": {"type": "string"},
        "description": "Functions, classes or modules that matter.",
    },
    "issues_found": {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "severity": {"type": "string", "enum": list(SEVERITIES)},
                "description": {"type": "string", "minLength": 1},
            },
            "required": ["severity", "description"],
        },
    },
    "confidence": {"type": "string", "enum": list(CONFIDENCE_LEVELS)},
    "hypothesis": {"type": "string", "description": "The current theory."},
    "backtrack_from_step": {
        "type": "integer",
        "minimum": 1,
        "description": "Discard the findings of this step and every later one, then continue.",
    },
    "use_assistant_model": {
        "type": "boolean",
        "description": "On the final step, ask an expert model to analyse the findings (default: on).",
    },
}
STEP_REQUIRED = ["step", "step_number", "total_steps", "next_step_required", "findings"]

WORKFLOW_OUTPUT: dict[str, Any] = {
    "step_number": {"type": "integer"},
    "total_steps": {"type": "integer"},
    "next_step_required": {"type": "boolean"},
    "required_actions": {"type": "array", "items": {"type": "string"}},
    "workflow_state": {
        "type": "object",
        "properties": {
            "steps_recorded": {"type": "integer"},
            "files_checked": {"type": "array", "items": {"type": "string"}},
            "relevant_files": {"type": "array", "items": {"type": "string"}},
            "issues_found": {"type": "array", "items": {"type": "object"}},
            "confidence": {"type": "string"},
            "hypothesis": {"type": ["string", "null"]},
        },
    },
    "expert_analysis": {"type": ["object", "null"]},
}


def _enum(values: tuple[str, ...], description: str) -> dict[str, Any]:
    return {"type": "string", "enum": list(values), "description": description}


def workflow_spec(
    name: str,
    title: str,
    description: str,
    extra: dict[str, Any] | None = None,
    required: list[str] | None = None,
    extra_output: dict[str, Any] | None = None,
    *,
    model_step: bool = True,
) -> ToolSpec:
    """``model_step``: the final step asks a model (false for the tools that only keep notes)."""
    properties = {**STEP_FIELDS, **COMMON_INPUTS, **(extra or {})}
    return ToolSpec(
        name=name,
        title=title,
        description=description,
        input_schema=input_schema(properties, required or STEP_REQUIRED),
        output_schema=envelope_schema({**WORKFLOW_OUTPUT, **(extra_output or {})}),
        annotations=READ_ONLY_MODEL_CALL,
        expected_s=MODEL_STEP_S if model_step else 0.0,
        expected_when=FINAL_STEP,
    )


CONSENSUS_MODEL = {
    "type": "object",
    "properties": {
        "model": {"type": "string", "minLength": 1},
        "stance": {"type": "string", "enum": ["for", "against", "neutral"]},
        "stance_prompt": {"type": "string"},
    },
    "required": ["model"],
    "additionalProperties": False,
}

SPECS = (
    workflow_spec(
        "thinkdeep",
        "Think deep",
        "Investigate a hard problem step by step; the final step has an expert model challenge and "
        "extend the reasoning.",
        {
            "problem_context": {"type": "string"},
            "focus_areas": {"type": "array", "items": {"type": "string"}},
        },
    ),
    workflow_spec(
        "analyze",
        "Analyze code",
        "Analyse a codebase step by step (architecture, performance, security, quality), then get an "
        "expert assessment.",
        {
            "analysis_type": _enum(
                ("architecture", "performance", "security", "quality", "general"), "What to analyse."
            ),
            "output_format": _enum(("summary", "detailed", "actionable"), "How to report."),
        },
    ),
    workflow_spec(
        "codereview",
        "Code review",
        "Review code step by step, recording issues by severity, then get an expert review.",
        {
            "review_type": _enum(("full", "security", "performance", "quick"), "Kind of review."),
            "focus_on": {"type": "string"},
            "standards": {"type": "string"},
            "severity_filter": _enum(("critical", "high", "medium", "low", "all"), "Lowest severity shown."),
        },
    ),
    workflow_spec(
        "debug",
        "Debug",
        "Track down the root cause of a bug step by step with hypotheses, then get an expert opinion.",
    ),
    workflow_spec(
        "planner",
        "Planner",
        "Build a plan step by step, with revisions of earlier steps and branches to explore options.",
        {
            "is_step_revision": {"type": "boolean"},
            "revises_step_number": {"type": "integer", "minimum": 1},
            "is_branch_point": {"type": "boolean"},
            "branch_from_step": {"type": "integer", "minimum": 1},
            "branch_id": {"type": "string", "minLength": 1, "maxLength": 128},
            "more_steps_needed": {"type": "boolean"},
        },
        required=["step", "step_number", "total_steps", "next_step_required"],
        extra_output={
            "plan": {"type": "array", "items": {"type": "object"}},
            "branches": {"type": "object"},
        },
        model_step=False,
    ),
    workflow_spec(
        "consensus",
        "Consensus",
        "Ask several models at once (each with an optional stance) and gather their views; a model "
        "that fails is reported without failing the call.",
        {
            "models": {"type": "array", "items": CONSENSUS_MODEL, "minItems": 1},
        },
        required=["step", "step_number", "total_steps", "next_step_required", "findings", "models"],
        extra_output={
            "consulted": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "model": {"type": "string"},
                        "provider": {"type": ["string", "null"]},
                        "stance": {"type": "string"},
                        "status": {"type": "string", "enum": ["success", "error"]},
                        "content": {"type": "string"},
                        "error": {"type": ["string", "null"]},
                    },
                    "required": ["model", "status"],
                },
            }
        },
    ),
    workflow_spec(
        "precommit",
        "Pre-commit check",
        "Validate changes before a commit step by step (completeness, regressions, security), then get "
        "an expert verdict.",
        {
            "path": {"type": "string", "description": "Repository root."},
            "compare_to": {"type": "string", "description": "Git ref to compare against."},
            "include_staged": {"type": "boolean"},
            "include_unstaged": {"type": "boolean"},
            "precommit_type": _enum(("external", "internal"), "Whether an expert model validates."),
        },
    ),
    workflow_spec(
        "refactor",
        "Refactor",
        "Find refactoring opportunities step by step (code smells, decomposition, modernisation).",
        {
            "refactor_type": _enum(("codesmells", "decompose", "modernize", "organization"), "Focus."),
            "focus_areas": {"type": "array", "items": {"type": "string"}},
        },
    ),
    workflow_spec(
        "secaudit",
        "Security audit",
        "Audit code for security issues step by step (OWASP, authentication, data handling), then get "
        "an expert audit.",
        {
            "security_scope": {"type": "string"},
            "threat_level": _enum(("low", "medium", "high", "critical"), "Threat level."),
            "compliance_requirements": {"type": "array", "items": {"type": "string"}},
            "audit_focus": _enum(
                ("owasp", "compliance", "infrastructure", "dependencies", "comprehensive"), "Focus."
            ),
        },
    ),
    workflow_spec(
        "testgen",
        "Test generation",
        "Work out which tests a piece of code needs step by step, then have an expert model write them.",
    ),
    workflow_spec(
        "docgen",
        "Documentation generation",
        "Document code step by step (complexity, call flow, comments on tricky logic).",
        {
            "document_complexity": {"type": "boolean"},
            "document_flow": {"type": "boolean"},
            "update_existing": {"type": "boolean"},
            "comments_on_complex_logic": {"type": "boolean"},
            "num_files_documented": {"type": "integer", "minimum": 0},
            "total_files_to_document": {"type": "integer", "minimum": 0},
        },
        model_step=False,
    ),
    workflow_spec(
        "tracer",
        "Code tracer",
        "Trace how code runs (precision: call flow of one method) or how it connects (dependencies).",
        {
            "trace_mode": _enum(("precision", "dependencies", "ask"), "What to trace."),
            "target_description": {"type": "string"},
        },
        model_step=False,
    ),
)
