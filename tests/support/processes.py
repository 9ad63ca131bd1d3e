"""Real child processes for tests: started with a bounded wait for readiness, stopped by PID."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path


class ManagedProcess:
    """A child process whose stderr is copied to a log file and watched for a readiness line."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.args = args
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._lines: list[str] = []
        self._changed = threading.Condition()
        self._reader: threading.Thread | None = None

    def start(self, ready: str, timeout: float = 30.0) -> re.Match[str]:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, *self.args],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self.wait_for(ready, timeout)

    def _read(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        with self.log_path.open("a", encoding="utf-8") as log:
            for raw in self.process.stderr:
                line = raw.decode(errors="replace")
                log.write(line)
                log.flush()
                with self._changed:
                    self._lines.append(line)
                    self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, pattern: str, timeout: float = 30.0, start: int = 0) -> re.Match[str]:
        """Wait until a stderr line matches ``pattern``; fail with the log if the process dies."""
        regex = re.compile(pattern)
        seen = start
        with self._changed:
            deadline = _monotonic() + timeout
            while True:
                for line in self._lines[seen:]:
                    match = regex.search(line)
                    if match:
                        return match
                seen = len(self._lines)
                assert self.process is not None
                if self.process.poll() is not None and not (self._reader and self._reader.is_alive()):
                    raise RuntimeError(f"{self.name} exited ({self.process.returncode}):\n{self.tail()}")
                remaining = deadline - _monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"{self.name}: no line matching {pattern!r} in {timeout} s:\n{self.tail()}"
                    )
                self._changed.wait(min(remaining, 0.5))

    @property
    def line_count(self) -> int:
        with self._changed:
            return len(self._lines)

    def text(self) -> str:
        with self._changed:
            return "".join(self._lines)

    def tail(self, n: int = 40) -> str:
        with self._changed:
            return "".join(self._lines[-n:])

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def signal(self, sig: int) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, sig)

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        if self._reader is not None:
            self._reader.join(5)
        if self.process.stderr is not None:
            self.process.stderr.close()
        return self.process.returncode


def _monotonic() -> float:
    import time

    return time.monotonic()
