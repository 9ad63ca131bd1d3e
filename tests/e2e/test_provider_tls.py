"""The worker against an HTTPS provider (the emulator's --tls): trusted through EXAI_PROVIDER_CA_FILE,
refused clearly without it, and calls in turn sharing one kept-alive connection."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.clients import mcp_session
from tests.support.emulator import EmulatorControl
from tests.support.stack import Stack, running_stack

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


def _tls_stack(directory: Path, *, trusted: bool) -> Iterator[Stack]:
    pytest.importorskip("cryptography")
    ca = directory / "emulator-ca.pem"
    trust = {"EXAI_PROVIDER_CA_FILE": str(ca)} if trusted else {}
    with running_stack(directory, emulator_args=("--tls", "--ca-file", str(ca)), **trust) as stack:
        yield stack


@pytest.fixture(scope="module")
def trusted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from _tls_stack(tmp_path_factory.mktemp("trusted"), trusted=True)


@pytest.fixture(scope="module")
def untrusted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from _tls_stack(tmp_path_factory.mktemp("untrusted"), trusted=False)


async def test_calls_over_https_work_and_share_one_connection(trusted: Stack) -> None:
    """With the emulator's CA in EXAI_PROVIDER_CA_FILE, chat calls answer, and calls made one after
    another reuse the worker's first connection (no handshake per call)."""
    assert trusted.emulator_url.startswith("https://")
    ca = trusted.env["EXAI_PROVIDER_CA_FILE"]
    with httpx.Client(verify=ssl.create_default_context(cafile=ca)) as http:
        control = EmulatorControl(trusted.emulator_url, http=http)
        control.reset()
        async with mcp_session(trusted.authed_url) as session:
            for i in range(4):
                result = await session.call_tool("chat", {"prompt": f"secure {i}"})
                assert result.isError is False
                assert result.structuredContent is not None
                assert f"secure {i}" in result.structuredContent["content"]
        assert control.stats()["connections"] == 1


async def test_without_the_ca_setting_a_call_fails_at_once_naming_it(untrusted: Stack) -> None:
    """An unverifiable provider certificate is an isError result that names EXAI_PROVIDER_CA_FILE,
    not a string of retries."""
    async with mcp_session(untrusted.authed_url) as session:
        result = await session.call_tool("chat", {"prompt": "secure"})
    assert result.isError is True
    text = " ".join(getattr(block, "text", "") for block in result.content)
    assert "EXAI_PROVIDER_CA_FILE" in text
    assert "could not be verified" in text
    assert "gave up after" not in text
    assert "retrying in" not in untrusted.logs()  # the worker logs every retry it schedules
