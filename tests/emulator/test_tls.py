"""The emulator over HTTPS: a CA made at start, trusted by clients that are given it and by no other."""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.emulator import running_emulator
from tests.support.processes import ManagedProcess

pytest.importorskip("cryptography")

AUTH = {"Authorization": "Bearer test-key"}
CHAT = {"model": "kimi-k2.6", "messages": [{"role": "user", "content": "over tls"}]}


@pytest.fixture(scope="module")
def tls_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    ca = tmp_path_factory.mktemp("tls") / "ca.pem"
    with running_emulator(0, 0, "--tls", "--ca-file", str(ca)) as url:
        yield url, ca


def test_the_emulator_serves_https_and_writes_its_ca_where_it_is_told(tls_emulator: tuple[str, Path]) -> None:
    """With --tls the URL is https and a client trusting the written CA gets answers."""
    url, ca = tls_emulator
    assert url.startswith("https://127.0.0.1:")
    assert ca.read_text().startswith("-----BEGIN CERTIFICATE-----")
    with httpx.Client(verify=ssl.create_default_context(cafile=str(ca)), timeout=10) as http:
        answer = http.post(f"{url}/v1/chat/completions", json=CHAT, headers=AUTH).json()
    assert answer["choices"][0]["message"]["content"] == "[emulated kimi kimi-k2.6] over tls"


def test_the_certificate_names_localhost_too(tls_emulator: tuple[str, Path]) -> None:
    """The server certificate covers both 127.0.0.1 and localhost, so either URL verifies."""
    url, ca = tls_emulator
    with httpx.Client(verify=ssl.create_default_context(cafile=str(ca)), timeout=10) as http:
        health = http.get(url.replace("127.0.0.1", "localhost") + "/_emulator/health")
    assert health.json() == {"status": "ok"}


def test_a_client_that_does_not_trust_the_ca_is_refused_at_the_handshake(
    tls_emulator: tuple[str, Path],
) -> None:
    """With only the public CAs (certifi), verification fails: the CA is not trusted by default."""
    url, _ = tls_emulator
    with httpx.Client(timeout=10) as http, pytest.raises(httpx.ConnectError) as caught:
        http.get(f"{url}/_emulator/health")
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)


def test_without_an_explicit_path_the_ca_goes_to_a_file_the_emulator_names(tmp_path: Path) -> None:
    """--tls alone writes the CA to a temporary file and prints where on stderr."""
    emulator = ManagedProcess(
        "emulator-tls",
        ["-m", "emulator", "--host", "127.0.0.1", "--port", "0", "--tls"],
        dict(os.environ),
        tmp_path / "emulator.log",
    )
    emulator.start(r"emulator listening on https://", timeout=30)
    try:
        written = Path(emulator.wait_for(r"emulator CA certificate in (\S+)").group(1))
        assert written.read_text().startswith("-----BEGIN CERTIFICATE-----")
        written.unlink()
    finally:
        emulator.stop()
