"""Rebuilding a thread's history into chat messages that fit the chosen model's context window.

The newest turns are kept; older ones that do not fit are replaced by one short summary line each
(or, when even those do not fit, by a count), so the prompt never grows without bound. Files named
by the turns are embedded once, newest reference first, within what remains of the budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contracts.errors import InvalidArguments
from contracts.settings import Settings
from workers.budget import estimate_tokens
from workers.files import EmbeddedFile, files_block, read_files
from workers.threads import Thread, Turn

SUMMARY_CHARS = 160  # of each dropped turn, in the summary line


@dataclass(frozen=True)
class History:
    messages: list[dict[str, Any]]
    kept_turns: int
    dropped_turns: int
    embedded_files: list[str]


def _message(turn: Turn) -> dict[str, Any]:
    label = f"[{turn.tool}" + (f" via {turn.provider}/{turn.model}" if turn.model else "") + "]"
    return {"role": turn.role, "content": f"{label} {turn.content}"}


def _summary(dropped: list[Turn], budget: int) -> str | None:
    if not dropped:
        return None
    lines = [f"- {t.role} ({t.tool}): {' '.join(t.content.split())[:SUMMARY_CHARS]}" for t in dropped]
    text = f"Summary of {len(dropped)} earlier turns of this conversation (oldest first):\n" + "\n".join(
        lines
    )
    if estimate_tokens(text) <= budget:
        return text
    return f"({len(dropped)} earlier turns of this conversation were left out to fit the context window.)"


def build_history(
    thread: Thread, budget_tokens: int, settings: Settings, *, skip_files: frozenset[str] = frozenset()
) -> History:
    """Messages for the thread's turns within ``budget_tokens`` (the part of the window left).

    ``skip_files`` are files the current turn embeds itself, so no file appears twice.
    """
    kept: list[Turn] = []
    used = 0
    summary_reserve = min(budget_tokens // 10, 2000)
    for turn in reversed(thread.turns):
        cost = estimate_tokens(turn.content) + 8
        if used + cost > budget_tokens - summary_reserve:
            break
        kept.append(turn)
        used += cost
    kept.reverse()
    dropped = thread.turns[: len(thread.turns) - len(kept)]
    messages: list[dict[str, Any]] = []
    summary = _summary(dropped, summary_reserve)
    if summary:
        messages.append({"role": "user", "content": summary})
        used += estimate_tokens(summary)
    messages.extend(_message(t) for t in kept)

    embedded = _thread_files(kept, budget_tokens - used, settings, skip_files)
    if embedded:
        messages.insert(0, {"role": "user", "content": files_block(embedded)})
    return History(messages, len(kept), len(dropped), [f.path for f in embedded])


def _thread_files(
    turns: list[Turn], budget_tokens: int, settings: Settings, skip: frozenset[str]
) -> list[EmbeddedFile]:
    names: list[str] = []
    for turn in reversed(turns):  # newest reference first: it is the one kept if space runs out
        names.extend(n for n in turn.files if n not in names)
    out: list[EmbeddedFile] = []
    used = 0
    for name in names:
        try:
            found = read_files([name], settings, skip=skip)
        except InvalidArguments:
            continue  # a file gone since that turn: the conversation goes on without it
        for file in found:
            cost = estimate_tokens(file.text)
            if used + cost > budget_tokens:
                return out
            out.append(file)
            used += cost
    return out
