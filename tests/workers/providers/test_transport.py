"""Kept-alive provider connections against the real emulator: reuse, HTTPS trust, and cancellation
and deadlines that still cut a blocked read within a second on a reused connection."""

from __future__ import annotations

import ssl
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from contracts.errors import CallCancelled, DeadlineExceeded, ProviderError
from tests.support.emulator import ROOT, EmulatorControl, running_emulator
from workers.cancellation import CancelToken
from workers.providers.base import ChatRequest, OnDelta
from workers.providers.kimi import KimiClient
from workers.providers.transport import CALLS_PER_SHARD, POOL_SHARDS, ShardedTransport, trust_context

KEY = "sk-test-kimi-secret"


def ask(prompt: str) -> ChatRequest:
    return ChatRequest(model="kimi-k2.6", messages=[{"role": "user", "content": prompt}])


def soon(seconds: float = 30) -> float:
    return time.time() + seconds


def ignore(text: str, n: int) -> None:
    """An on_delta that makes the call a streamed one."""


@pytest.fixture(scope="module")
def tls_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """An HTTPS emulator and the path of the CA that signed its certificate."""
    pytest.importorskip("cryptography")
    ca = tmp_path_factory.mktemp("tls") / "ca.pem"
    with running_emulator(0, 0, "--tls", "--ca-file", str(ca)) as url:
        yield url, str(ca)


@pytest.fixture(params=["http", "https"])
def endpoint(
    request: pytest.FixtureRequest, emulator_url: str, tls_emulator: tuple[str, str]
) -> tuple[str, str | None]:
    """The emulator's base URL and the CA to trust, over plain HTTP and over HTTPS."""
    return (emulator_url, None) if request.param == "http" else tls_emulator


@pytest.fixture
def watcher(endpoint: tuple[str, str | None]) -> Iterator[EmulatorControl]:
    """The emulator's controls on a connection of their own, reset: its connection count is the
    client's alone."""
    url, ca = endpoint
    with httpx.Client(verify=ssl.create_default_context(cafile=ca) if ca else True) as http:
        control = EmulatorControl(url, http=http)
        control.reset()
        yield control


def client_for(endpoint: tuple[str, str | None], **options: float) -> KimiClient:
    url, ca = endpoint
    return KimiClient(KEY, base_url=f"{url}/v1", read_timeout_s=30, ca_file=ca, **options)


def test_calls_one_after_another_share_one_connection(
    endpoint: tuple[str, str | None], watcher: EmulatorControl
) -> None:
    """Plain and streamed calls in turn reuse the connection the first one opened."""
    client = client_for(endpoint)
    try:
        for i in range(4):
            on_delta = ignore if i % 2 else None
            answer = client.chat(ask(f"call {i}"), request_id=f"r{i}", deadline=soon(), on_delta=on_delta)
            assert answer.text.endswith(f"call {i}")
        assert watcher.stats()["connections"] == 1
    finally:
        client.close()


def test_keepalive_zero_opens_a_connection_per_call(emulator_url: str, control: EmulatorControl) -> None:
    """EXAI_PROVIDER_KEEPALIVE_S=0 keeps the old behaviour: no connection outlives its call."""
    client = KimiClient(KEY, base_url=f"{emulator_url}/v1", keepalive_s=0)
    try:
        for i in range(3):
            client.chat(ask("hi"), request_id=f"r{i}", deadline=soon())
    finally:
        client.close()
    assert control.stats()["connections"] == 3 + 1  # and the stats request's own


def _cancel_when(ready: Callable[[], object], token: CancelToken) -> tuple[threading.Thread, list[float]]:
    cancelled_at: list[float] = []

    def run() -> None:
        ready()
        cancelled_at.append(time.monotonic())
        token.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, cancelled_at


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
def test_cancelling_a_call_on_a_reused_connection_cuts_its_read_within_a_second(
    endpoint: tuple[str, str | None], watcher: EmulatorControl, streamed: bool
) -> None:
    """A warm connection is cut as surely as a new one: the blocked call ends within a second, and
    the cut connection is never handed to the next call."""
    client = client_for(endpoint)
    control = watcher
    try:
        client.chat(ask("warm up"), request_id="warm", deadline=soon())
        token = CancelToken()
        first_delta = threading.Event()
        on_delta: OnDelta | None = None
        if streamed:
            prompt = "emulate:stall_after=1"
            ready: Callable[[], object] = lambda: first_delta.wait(10)  # noqa: E731
            on_delta = lambda text, n: first_delta.set()  # noqa: E731
        else:
            control.fault("hang", provider="kimi")
            prompt = "hi"
            ready = lambda: control.wait_in_flight("kimi")  # noqa: E731
        thread, cancelled_at = _cancel_when(ready, token)
        with pytest.raises(CallCancelled):
            client.chat(ask(prompt), request_id="cut", deadline=soon(), cancel=token, on_delta=on_delta)
        assert time.monotonic() - cancelled_at[0] < 1.0
        thread.join(5)
        assert watcher.stats()["connections"] == 1  # the cancelled call ran on the warm connection
        answer = client.chat(ask("after"), request_id="after", deadline=soon())
        assert answer.text.endswith("after")
        assert watcher.stats()["connections"] == 2  # the cut connection was dropped, not reused
    finally:
        client.close()


def test_the_deadline_cuts_a_stalled_stream_on_a_reused_connection(
    endpoint: tuple[str, str | None], watcher: EmulatorControl
) -> None:
    """An expired call on a warm connection ends at its deadline, not at the 30 s read timeout."""
    client = client_for(endpoint)
    try:
        client.chat(ask("warm up"), request_id="warm", deadline=soon())
        started = time.monotonic()
        with pytest.raises(DeadlineExceeded, match="deadline"):
            client.chat(ask("emulate:stall_after=1"), request_id="late", deadline=soon(1.0), on_delta=ignore)
        assert 0.9 <= time.monotonic() - started < 2.0
        assert watcher.stats()["connections"] == 1
    finally:
        client.close()


def test_https_works_with_the_ca_setting_and_fails_clearly_without_it(tls_emulator: tuple[str, str]) -> None:
    """Trusting the emulator's CA through ca_file works; without it the call fails at once with a
    non-retryable tls error that names EXAI_PROVIDER_CA_FILE."""
    url, ca = tls_emulator
    trusted = KimiClient(KEY, base_url=f"{url}/v1", ca_file=ca)
    untrusted = KimiClient(KEY, base_url=f"{url}/v1")
    try:
        assert trusted.chat(ask("secure"), request_id="ok", deadline=soon()).text.endswith("secure")
        with pytest.raises(ProviderError) as caught:
            untrusted.chat(ask("secure"), request_id="no", deadline=soon())
    finally:
        trusted.close()
        untrusted.close()
    assert caught.value.kind == "tls" and not caught.value.retryable
    assert "EXAI_PROVIDER_CA_FILE" in caught.value.message
    assert "could not be verified" in caught.value.message


def test_a_ca_file_that_is_not_pem_is_a_config_error_naming_the_setting(tmp_path: Path) -> None:
    """A CA bundle that cannot be loaded is refused when the client is built, naming the setting."""
    from contracts.errors import ConfigError

    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate")
    with pytest.raises(ConfigError, match="EXAI_PROVIDER_CA_FILE"):
        trust_context(str(bogus))


def test_calls_fill_one_pool_before_the_next() -> None:
    """Few calls at once share the first pool (so they find its warm connections); more fill the
    next pools, and past every pool's share each goes to the least busy one."""
    transport = ShardedTransport(ssl_context=trust_context(None), keepalive_s=30, keepalive_max=64)
    try:
        taken = [transport.take() for _ in range(POOL_SHARDS * CALLS_PER_SHARD + 2)]
        assert taken[: CALLS_PER_SHARD + 1] == [0] * CALLS_PER_SHARD + [1]
        assert Counter(taken[:-2]) == dict.fromkeys(range(POOL_SHARDS), CALLS_PER_SHARD)
        assert taken[-2:] == [0, 1]
        for shard in taken:
            transport.free(shard)
        assert transport.take() == 0  # all done: back to the first pool
    finally:
        transport.close()


GEVENT_SCRIPT = """
from gevent import monkey; monkey.patch_all()
import sys, time, gevent, gevent.event, httpx
from contracts.errors import CallCancelled
from workers.cancellation import CancelToken
from workers.providers.base import ChatRequest
from workers.providers.kimi import KimiClient

client = KimiClient("k", base_url=sys.argv[1] + "/v1", read_timeout_s=30)
def ask(prompt):
    return ChatRequest(model="kimi-k2.6", messages=[{"role": "user", "content": prompt}])
client.chat(ask("warm up"), request_id="warm", deadline=time.time() + 30)
token, streaming = CancelToken(), gevent.event.Event()
def cancel():
    streaming.wait(10)
    token.set()
    return time.monotonic()
canceller = gevent.spawn(cancel)
try:
    client.chat(ask("emulate:stall_after=1"), request_id="g", deadline=time.time() + 30, cancel=token,
                on_delta=lambda text, n: streaming.set())
except CallCancelled:
    elapsed = time.monotonic() - canceller.get(timeout=5)
    stats = httpx.get(sys.argv[1] + "/_emulator/stats").json()
    print(elapsed, stats["connections"])
"""


def test_under_gevent_a_reused_connection_is_cut_within_a_second(control: EmulatorControl) -> None:
    """Workers run under gevent: a cancelled greenlet's stalled stream on a warm connection ends too."""
    pytest.importorskip("gevent")
    done = subprocess.run(
        [sys.executable, "-c", GEVENT_SCRIPT, control.base_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    elapsed, seen = done.stdout.split()
    assert float(elapsed) < 1.0
    assert int(seen) == 1 + 1  # the warm connection, reused by the cancelled call, and the stats request
