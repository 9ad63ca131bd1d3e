"""The official MCP conformance suite and inspector CLI against the gateway's Streamable HTTP endpoint.

Both are npm packages pinned in ``tests/conformance/package.json`` and installed by ``make install``
(``npm ci`` into this folder) when npm is on the machine. ``expected-failures.yml`` lists the
scenarios that need the suite's own reference tools, resources or prompts, with the reason for each;
any other failure, or an expected one that starts passing, fails the test. Results: docs/conformance.md.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.stack import TOKEN, Stack, running_stack

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parent
BIN = HERE / "node_modules" / ".bin"
MUST_PASS = (
    "server-initialize",
    "logging-set-level",
    "ping",
    "tools-list",
    "server-sse-multiple-streams",
    "dns-rebinding-protection",
)

needs_node = pytest.mark.skipif(
    shutil.which("node") is None or not (BIN / "conformance").exists(),
    reason="node and `npm ci --prefix tests/conformance` (run by `make install` when npm exists) are needed",
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The whole service; the suite cannot send headers, so it passes the token in the URL."""
    with running_stack(tmp_path_factory.mktemp("conformance")) as running:
        yield running


@needs_node
def test_the_official_conformance_suite_passes_everything_but_its_own_reference_fixtures(
    stack: Stack, tmp_path: Path
) -> None:
    """Every server scenario passes except the listed ones that need the suite's reference tools."""
    done = subprocess.run(
        [
            str(BIN / "conformance"),
            "server",
            "--url",
            f"{stack.http_url}?token={TOKEN}",
            "--suite",
            "all",
            "--expected-failures",
            str(HERE / "expected-failures.yml"),
            "-o",
            str(tmp_path),
        ],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    statuses: dict[str, set[str]] = {}
    for checks in tmp_path.glob("server-*/checks.json"):
        scenario = re.sub(r"-\d{4}-\d\d-\d\dT.*$", "", checks.parent.name.removeprefix("server-"))
        statuses[scenario] = {check["status"] for check in json.loads(checks.read_text())}
    for scenario in MUST_PASS:
        assert statuses.get(scenario) and "FAILURE" not in statuses[scenario], (scenario, done.stdout[-3000:])
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]


@needs_node
def test_the_inspector_cli_lists_and_calls_tools_with_a_token(stack: Stack) -> None:
    """`mcp-inspector --cli URL --method tools/list|tools/call` over Streamable HTTP (token in the URL,
    as this inspector version cannot send headers)."""

    def inspect(*args: str) -> dict[str, object]:
        done = subprocess.run(
            [
                str(BIN / "mcp-inspector"),
                "--cli",
                f"{stack.http_url}?token={TOKEN}",
                "--transport",
                "http",
                *args,
            ],
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        answer: dict[str, object] = json.loads(done.stdout)
        return answer

    listing = inspect("--method", "tools/list")
    assert {"chat", "listmodels", "version"} <= {t["name"] for t in listing["tools"]}  # type: ignore[attr-defined]
    result = inspect(
        "--method", "tools/call", "--tool-name", "chat", "--tool-arg", "prompt=from the inspector"
    )
    assert result.get("isError") is False
    assert "from the inspector" in json.dumps(result)
