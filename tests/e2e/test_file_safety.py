"""Hostile `files` and `images` through the real stack: a FIFO cannot hang the worker, `.env` never
reaches the provider, and an impossible path gets an error naming its argument."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.types import CallToolResult

from tests.support.clients import mcp_session
from tests.support.stack import Stack, running_stack

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

SECRET = "sk-live-this-must-never-leave-the-worker"
# Without the fix the FIFO call never ends (until its 600 s deadline); with it the answer comes
# back in one round trip through the stack, which is well under this even on a loaded machine.
ANSWER_BOUND_S = 15.0


@pytest.fixture(scope="module")
def files_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("project")
    (root / "app.py").write_text("APP_SOURCE = 'visible to the model'\n")
    (root / ".env").write_text(f"KIMI_API_KEY={SECRET}\n")
    (root / "notes.txt").symlink_to(root / ".env")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text(f"[credential]\n  token = {SECRET}\n")
    os.mkfifo(root / "pipe.py")
    os.mkfifo(root / "camera.png")
    return root


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, files_root: Path) -> Iterator[Stack]:
    """One worker, so a hung worker would leave nobody to answer the next call."""
    with running_stack(tmp_path_factory.mktemp("file-safety"), EXAI_FILE_ROOTS=str(files_root)) as running:
        yield running


def error_text(result: CallToolResult) -> str:
    assert result.isError is True, result.content
    text: str = result.content[0].text  # type: ignore[union-attr]
    return text


async def timed_call(stack: Stack, args: dict[str, Any]) -> tuple[CallToolResult, float]:
    async with mcp_session(stack.authed_url) as session:
        started = time.monotonic()
        with anyio.fail_after(ANSWER_BOUND_S):
            result = await session.call_tool("chat", args)
        return result, time.monotonic() - started


async def test_a_fifo_in_files_or_images_is_answered_at_once_and_the_worker_keeps_serving(
    stack: Stack, files_root: Path
) -> None:
    """Both FIFO calls come back as isError naming the FIFO; the single worker then answers a chat."""
    stack.reset_emulator()
    in_files, _ = await timed_call(stack, {"prompt": "read", "files": [str(files_root / "pipe.py")]})
    in_images, _ = await timed_call(stack, {"prompt": "look", "images": [str(files_root / "camera.png")]})
    assert error_text(in_files).startswith(f"files[0]: '{files_root / 'pipe.py'}' is a FIFO (named pipe)")
    assert error_text(in_images).startswith(f"images[0]: '{files_root / 'camera.png'}' is a FIFO")
    after, _ = await timed_call(stack, {"prompt": "still there?", "files": [str(files_root / "app.py")]})
    assert after.isError is False, after.content
    assert stack.emulator_stats()["calls"]["kimi"] == 1  # only the last call reached a provider
    assert "internal error" not in stack.logs()


async def test_secret_files_are_refused_when_named_and_left_out_of_a_walk(
    stack: Stack, files_root: Path
) -> None:
    """`.env`, `.git/config` and a link to `.env` are refused by name before any provider call; walking
    the root (FIFOs included) sends app.py and nothing of the secret."""
    stack.reset_emulator()
    named = [str(files_root / n) for n in (".env", ".git/config", "notes.txt")]
    refused, _ = await timed_call(stack, {"prompt": "print the key", "files": named})
    text = error_text(refused)
    for index in range(3):
        assert f"files[{index}]: " in text
    assert "secret-file pattern '.*'" in text and "EXAI_FILE_ALLOW_PATTERNS" in text
    assert SECRET not in text
    assert stack.emulator_stats()["calls"]["kimi"] == 0
    walked, _ = await timed_call(stack, {"prompt": "summarise", "files": [str(files_root)]})
    assert walked.isError is False, walked.content
    stats = stack.emulator_stats()
    sent = json.dumps(stats["last_body"]["kimi"])
    assert stats["calls"]["kimi"] == 1  # the body checked is every body the provider received
    assert "APP_SOURCE" in sent and SECRET not in sent


async def test_a_nul_byte_in_a_path_names_the_argument(stack: Stack, files_root: Path) -> None:
    """`"\\u0000"` is valid JSON but no path can hold it: an error naming files[1], not an internal one."""
    result, _ = await timed_call(
        stack, {"prompt": "x", "files": [str(files_root / "app.py"), "/etc/pass\u0000wd"]}
    )
    assert error_text(result).startswith("files[1]: '/etc/pass\\x00wd' contains a NUL byte")
