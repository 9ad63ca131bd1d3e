"""The provider emulator as a real child process, for tests that talk to it over loopback HTTP."""

from __future__ import annotations

import os
import queue
import re
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"emulator listening on (https?://\S+)")
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


@contextmanager
def running_emulator(latency_ms: float = 0, tokens_per_second: float = 0, *extra: str) -> Iterator[str]:
    """Start ``python -m emulator`` on a free port and yield its base URL; stop it by PID on exit.
    ``extra`` are more command-line options (``--tls``, ``--ca-file``, ``--rtt-ms``)."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    args = [
        sys.executable,
        "-m",
        "emulator",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--latency-ms",
        str(latency_ms),
        "--tokens-per-second",
        str(tokens_per_second),
        *extra,
    ]
    process = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    lines: queue.Queue[str | None] = queue.Queue()
    seen: list[str] = []

    def read() -> None:  # drains stderr for the whole run, so the emulator never blocks on a full pipe
        assert process.stderr is not None
        for line in process.stderr:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=read, name="emulator-stderr", daemon=True)
    reader.start()
    try:
        yield _wait_for_url(lines, seen)
    finally:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT_S)
        reader.join(STOP_TIMEOUT_S)
        assert process.stderr is not None
        process.stderr.close()


def _wait_for_url(lines: queue.Queue[str | None], seen: list[str]) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            break
        if line is None:
            raise RuntimeError("the emulator exited before listening:\n" + "".join(seen))
        seen.append(line)
        match = LISTENING.search(line)
        if match:
            return match.group(1)
    raise TimeoutError(f"the emulator did not listen within {START_TIMEOUT_S:.0f} s:\n" + "".join(seen))


class EmulatorControl:
    """The emulator's control endpoints, for arranging faults and reading what it saw."""

    def __init__(self, base_url: str, ca_file: str | None = None, http: httpx.Client | None = None) -> None:
        self.base_url = base_url
        # An HTTPS emulator (--tls) is trusted through the CA it wrote. With ``http`` (a client the
        # caller closes) every control request shares one kept-alive connection, so the emulator's
        # connection count after a reset shows only the connections of the code under test.
        self._verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_file) if ca_file else True
        self._http = http

    def _send(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        url = f"{self.base_url}/_emulator/{path}"
        if self._http is not None:
            answer = self._http.request(method, url, json=body, timeout=5)
        else:
            answer = httpx.request(method, url, json=body, timeout=5, verify=self._verify)
        answer.raise_for_status()
        return answer

    def reset(self) -> None:
        self._send("POST", "reset")

    def fault(
        self, kind: str, *, provider: str = "*", count: int = 1, retry_after: float | None = None
    ) -> None:
        body: dict[str, Any] = {"provider": provider, "kind": kind, "count": count}
        if retry_after is not None:
            body["retry_after"] = retry_after
        self._send("POST", "faults", body)

    def stats(self) -> dict[str, Any]:
        answer: dict[str, Any] = self._send("GET", "stats").json()
        return answer

    def wait_in_flight(self, provider: str, count: int = 1, timeout: float = 10.0) -> None:
        """Wait until ``count`` calls to ``provider`` are being answered (or hang) right now."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.stats()["in_flight"][provider] >= count:
                return
            time.sleep(0.02)  # polling a condition, bounded by the deadline above
        raise TimeoutError(f"{count} {provider} call(s) not in flight within {timeout} s")
