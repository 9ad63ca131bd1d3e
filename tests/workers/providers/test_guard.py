"""The call guard cuts blocked reads on TLS connections and under gevent, as real providers need."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from contracts.errors import CallCancelled, DeadlineExceeded
from tests.support.emulator import ROOT, running_emulator
from workers.cancellation import CancelToken
from workers.providers.guard import CallGuard, current_guard


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@pytest.fixture
def silent_tls_server(tmp_path: Path) -> Iterator[tuple[str, ssl.SSLContext, threading.Event]]:
    """An HTTPS server that reads the request and never answers; yields (url, client context, received)."""
    cert, key = _self_signed(tmp_path)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    received, stop = threading.Event(), threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)

    def serve() -> None:
        with listener:
            try:
                raw, _ = listener.accept()
            except OSError:
                return
            with server_context.wrap_socket(raw, server_side=True) as conn:
                conn.recv(65536)
                received.set()
                stop.wait(30)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    url = f"https://127.0.0.1:{listener.getsockname()[1]}/v1/chat/completions"
    yield url, ssl.create_default_context(cafile=str(cert)), received
    stop.set()
    thread.join(10)


def _post_guarded(url: str, context: ssl.SSLContext, guard: CallGuard) -> None:
    with (
        httpx.Client(verify=context, limits=httpx.Limits(max_keepalive_connections=0)) as http,
        pytest.raises(httpx.TransportError),
    ):
        http.post(url, json={}, timeout=30, extensions={"trace": guard.trace})


def test_cancelling_cuts_a_read_blocked_on_a_silent_tls_server(
    silent_tls_server: tuple[str, ssl.SSLContext, threading.Event],
) -> None:
    """Over TLS too, cancellation ends the blocked read within a second and the guard reports it."""
    url, context, received = silent_tls_server
    token = CancelToken()
    cancelled_at: list[float] = []

    def cancel_once_received() -> None:
        received.wait(10)
        cancelled_at.append(time.monotonic())
        token.set()

    canceller = threading.Thread(target=cancel_once_received, daemon=True)
    canceller.start()
    with CallGuard(what="the test call", deadline=time.time() + 30, cancel=token) as guard:
        _post_guarded(url, context, guard)
        with pytest.raises(CallCancelled):
            guard.check()
    assert time.monotonic() - cancelled_at[0] < 1.0
    canceller.join(5)


def test_the_deadline_cuts_a_read_blocked_on_a_silent_tls_server(
    silent_tls_server: tuple[str, ssl.SSLContext, threading.Event],
) -> None:
    """A read with a long timeout still ends at the deadline."""
    url, context, _ = silent_tls_server
    started = time.monotonic()
    with CallGuard(what="the test call", deadline=time.time() + 0.5, cancel=None) as guard:
        _post_guarded(url, context, guard)
        with pytest.raises(DeadlineExceeded, match="the test call did not finish before its deadline"):
            guard.check()
    assert time.monotonic() - started < 1.5


GEVENT_SCRIPT = """
from gevent import monkey; monkey.patch_all()
import sys, time, gevent
from contracts.errors import CallCancelled
from workers.cancellation import CancelToken
from workers.providers.base import ChatRequest
from workers.providers.kimi import KimiClient

client = KimiClient("k", base_url=sys.argv[1] + "/v1", read_timeout_s=30)
token, streaming = CancelToken(), gevent.event.Event()
def cancel():
    streaming.wait(10)
    token.set()
    return time.monotonic()
canceller = gevent.spawn(cancel)
request = ChatRequest(model="kimi-k2.6", messages=[{"role": "user", "content": "emulate:stall_after=1"}])
try:
    client.chat(request, request_id="g", deadline=time.time() + 30, cancel=token,
                on_delta=lambda text, n: streaming.set())
except CallCancelled:
    print(time.monotonic() - canceller.get(timeout=5))
"""


def test_cancellation_cuts_a_blocked_read_under_gevent() -> None:
    """Workers run under gevent: a cancelled greenlet's stalled stream ends within a second too."""
    pytest.importorskip("gevent")
    with running_emulator() as url:
        done = subprocess.run(
            [sys.executable, "-c", GEVENT_SCRIPT, url],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) < 1.0


class _Connection:
    def __init__(self) -> None:
        self.cuts = 0

    def cut(self) -> None:
        self.cuts += 1


def test_a_released_connection_is_never_cut_by_a_late_cancellation() -> None:
    """Once the call lets go of its connection (it may already serve another call), cancelling or
    expiring the call no longer touches it; before that, cancelling cuts it."""
    token = CancelToken()
    held, released = _Connection(), _Connection()
    with CallGuard(what="the test call", deadline=time.time() + 30, cancel=token) as guard:
        guard.attach(held)
        guard.release()
        guard.attach(released)  # a write after the release: not this call's any more
        token.set()
    assert (held.cuts, released.cuts) == (0, 0)
    other = CancelToken()
    with CallGuard(what="the test call", deadline=time.time() + 30, cancel=other) as guard:
        guard.attach(held)
        other.set()
    assert held.cuts == 1


def test_a_connection_attached_after_cancellation_is_cut_at_once() -> None:
    """A call cancelled while its connection was being opened cuts it as soon as it is attached."""
    token = CancelToken()
    connection = _Connection()
    with CallGuard(what="the test call", deadline=time.time() + 30, cancel=token) as guard:
        token.set()
        guard.attach(connection)
    assert connection.cuts == 1


def test_the_current_guard_is_the_innermost_one_in_this_thread() -> None:
    """current_guard() names the guard whose block is running here, and none outside any block."""
    assert current_guard() is None
    with CallGuard(what="outer", deadline=time.time() + 30, cancel=None) as outer:
        assert current_guard() is outer
        seen: list[object] = []
        thread = threading.Thread(target=lambda: seen.append(current_guard()))
        thread.start()
        thread.join(5)
        assert seen == [None]  # another thread runs another call
    assert current_guard() is None
