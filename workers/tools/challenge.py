"""``challenge``: wrap a statement in instructions to think critically; no model is called."""

from __future__ import annotations

from typing import Any

from workers.context import ToolContext
from workers.envelope import local_envelope

INSTRUCTIONS = (
    'CRITICAL REASSESSMENT - do not automatically agree:\n\n"{statement}"\n\n'
    "Evaluate this carefully. Is it correct? Check it against the code and the facts you have, "
    "look for flaws, missing context and counter-examples, and say plainly where you disagree. "
    "Agreement is fine only when the evidence supports it."
)


def run(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    statement = args["prompt"]
    wrapped = INSTRUCTIONS.format(statement=statement)
    return local_envelope(
        wrapped,
        status="challenge_created",
        original_statement=statement,
        challenge_prompt=wrapped,
        continuation_offer=None,
    )
