"""The workflow tools that differ only in prompts and fields: each is a ``WorkflowTool`` definition.

``planner`` and ``consensus`` replace the final step and have modules of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from workers.context import ToolContext
from workers.workflow import WorkflowTool, run_workflow

_EXPERT = (
    "You are a senior engineer acting as an expert reviewer. Another engineer investigated "
    "step by step; their findings and the relevant files follow. {task} Be specific: name files, "
    "functions and lines; rank what you report by importance; say what you are unsure of."
)


def _expert(task: str) -> str:
    return _EXPERT.format(task=task)


TOOLS: dict[str, WorkflowTool] = {
    t.name: t
    for t in (
        WorkflowTool(
            "thinkdeep",
            _expert("Challenge their reasoning, find gaps and risks, and extend the analysis."),
            (
                "Investigate the next open question; read the code rather than assume",
                "Update findings, hypothesis and confidence with what you learned",
            ),
            ("problem_context", "focus_areas"),
        ),
        WorkflowTool(
            "analyze",
            _expert("Assess the architecture, quality, performance and risks of the code analysed."),
            (
                "Examine the next part of the code: structure, dependencies, patterns",
                "Record strengths, weaknesses and issues with their severity",
            ),
            ("analysis_type", "output_format"),
        ),
        WorkflowTool(
            "codereview",
            _expert("Review the code: confirm or refute each issue and find the ones they missed."),
            (
                "Read the next files in full and check correctness, security, performance, style",
                "Record every issue in issues_found with its severity",
            ),
            ("review_type", "focus_on", "standards", "severity_filter"),
        ),
        WorkflowTool(
            "debug",
            _expert("Find the root cause of the bug from the evidence and propose the smallest fix."),
            (
                "Test the current hypothesis against the code and the symptoms",
                "Narrow down where the failure starts; update hypothesis and confidence",
            ),
        ),
        WorkflowTool(
            "precommit",
            _expert("Validate the changes before commit: completeness, regressions, security, tests."),
            (
                "Inspect the diff (staged and unstaged as asked) file by file",
                "Record missing tests, regressions and risky changes as issues",
            ),
            ("path", "compare_to", "include_staged", "include_unstaged", "precommit_type"),
            expert_allowed=lambda args: args.get("precommit_type", "external") != "internal",
        ),
        WorkflowTool(
            "refactor",
            _expert("Propose concrete refactorings, ordered by value and risk, with their steps."),
            (
                "Look for code smells, long functions, duplication and outdated patterns",
                "Record each opportunity as an issue with its severity",
            ),
            ("refactor_type", "focus_areas"),
        ),
        WorkflowTool(
            "secaudit",
            _expert("Audit security: OWASP top ten, authentication, secrets, input handling."),
            (
                "Check the next attack surface: inputs, authentication, secrets, dependencies",
                "Record every vulnerability in issues_found with its severity",
            ),
            ("security_scope", "threat_level", "compliance_requirements", "audit_focus"),
        ),
        WorkflowTool(
            "testgen",
            _expert("Write the tests the findings call for, covering edge cases and failure paths."),
            (
                "Map the code's behaviour, branches and edge cases that need tests",
                "Note the test framework and conventions already in use",
            ),
        ),
        WorkflowTool(
            "docgen",
            _expert("Write the documentation: purpose, parameters, complexity, call flow, pitfalls."),
            (
                "Document the next file: every function and class, with complexity where it matters",
                "Update num_files_documented",
            ),
            ("document_complexity", "document_flow", "update_existing", "comments_on_complex_logic"),
            expert=False,
        ),
        WorkflowTool(
            "tracer",
            _expert("Produce the trace: call flow or dependency map, with file and line references."),
            (
                "Follow the next calls (precision) or dependencies (dependencies mode)",
                "Record each hop with file and line",
            ),
            ("trace_mode", "target_description"),
            expert=False,
        ),
    )
}


# Tools that read whole codebases want the longest context; thinkdeep and debug want reasoning.
for _name in ("analyze", "codereview", "precommit", "refactor", "secaudit", "testgen", "docgen", "tracer"):
    TOOLS[_name] = replace(TOOLS[_name], need="long_context")


def runner_for(name: str) -> Callable[[ToolContext, dict[str, Any]], dict[str, Any]]:
    tool = TOOLS[name]

    def run(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
        return run_workflow(ctx, args, tool)

    run.__name__ = f"run_{name}"
    return run
