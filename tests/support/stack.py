"""The whole service as real processes: Redis, provider emulator, worker(s) and gateway."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from cli.local_redis import LocalRedis
from tests.support.processes import ManagedProcess

TOKEN = "test-token-0123456789abcdef"


@dataclass
class Stack:
    directory: Path
    redis: LocalRedis
    env: dict[str, str]
    emulator: ManagedProcess
    emulator_url: str
    gateway: ManagedProcess | None = None
    gateway_url: str = ""
    http_url: str = ""  # the gateway's Streamable HTTP endpoint (…/mcp)
    workers: list[ManagedProcess] = field(default_factory=list)
    monitor: ManagedProcess | None = None
    monitor_urls: dict[str, str] = field(default_factory=dict)  # health, metrics, dashboard

    @property
    def authed_url(self) -> str:
        token = self.env.get("EXAI_WS_TOKEN")
        return f"{self.gateway_url}?token={token}" if token else self.gateway_url

    def fault(self, kind: str, count: int = 1, provider: str = "*", **extra: Any) -> None:
        body = {"provider": provider, "kind": kind, "count": count, **extra}
        httpx.post(f"{self.emulator_url}/_emulator/faults", json=body, timeout=5).raise_for_status()

    def emulator_stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = httpx.get(f"{self.emulator_url}/_emulator/stats", timeout=5).json()
        return stats

    def reset_emulator(self) -> None:
        httpx.post(f"{self.emulator_url}/_emulator/reset", timeout=5).raise_for_status()

    def start_worker(self, **env: str) -> ManagedProcess:
        index = len(self.workers) + 1
        worker = ManagedProcess(
            f"worker-{index}",
            ["-m", "cli.main", "worker"],
            {**self.env, **env},
            self.directory / f"worker-{index}.log",
        )
        worker.start(r"exai worker ready", timeout=60)
        self.workers.append(worker)
        return worker

    def start_gateway(self, **env: str) -> ManagedProcess:
        ports = {"EXAI_WS_PORT": "0", "EXAI_HTTP_PORT": "0"}
        gateway = self.spawn_gateway("gateway", {**self.env, **ports, **env})
        self.gateway = gateway
        self.gateway_url, self.http_url = gateway_urls(gateway)
        return gateway

    def spawn_gateway(self, name: str, env: dict[str, str]) -> ManagedProcess:
        """A gateway process with ``env`` (on free ports unless it names them); the caller stops it."""
        gateway = ManagedProcess(
            name,
            ["-m", "cli.main", "gateway"],
            {"EXAI_WS_PORT": "0", "EXAI_HTTP_PORT": "0", **env},
            self.directory / f"{name}.log",
        )
        gateway.start(r"gateway listening on (ws://[\d.]+:\d+/)", timeout=30)
        return gateway

    def start_monitor(self, **env: str) -> ManagedProcess:
        """``exai monitor`` on free ports; its URLs go to ``monitor_urls``."""
        monitor = ManagedProcess(
            "monitor",
            ["-m", "cli.main", "monitor"],
            {**self.env, "HEALTH_PORT": "0", "METRICS_PORT": "0", "DASHBOARD_PORT": "0", **env},
            self.directory / "monitor.log",
        )
        match = monitor.start(r"monitor listening: health (\S+) metrics (\S+) dashboard (\S+)", timeout=30)
        self.monitor = monitor
        self.monitor_urls = {"health": match.group(1), "metrics": match.group(2), "dashboard": match.group(3)}
        return monitor

    def logs(self) -> str:
        return "\n".join(
            p.text() for p in [self.emulator, *self.workers, *([self.gateway] if self.gateway else [])]
        )


def gateway_urls(gateway: ManagedProcess) -> tuple[str, str]:
    """A started gateway's WebSocket URL and Streamable HTTP endpoint."""
    url = gateway.wait_for(r"gateway listening on (ws://[\d.]+:\d+/)").group(1)
    return url, gateway.wait_for(r"MCP Streamable HTTP on (http://\S+)").group(1)


@contextmanager
def unauthenticated_gateway(stack: Stack) -> Iterator[ManagedProcess]:
    """A second gateway on the stack's Redis, run with EXAI_AUTH=none; stopped on exit."""
    env = {k: v for k, v in stack.env.items() if k not in ("EXAI_WS_TOKEN", "EXAI_WS_TOKENS")}
    gateway = stack.spawn_gateway("open-gateway", {**env, "EXAI_AUTH": "none"})
    try:
        yield gateway
    finally:
        gateway.stop()


@contextmanager
def running_stack(
    directory: Path,
    *,
    workers: int = 1,
    token: str | None = TOKEN,
    emulator_args: tuple[str, ...] = (),
    monitor: bool = False,
    **settings: str,
) -> Iterator[Stack]:
    """Start everything on free loopback ports; stop it all (by PID) on exit."""
    with ExitStack() as stack:
        redis_server = LocalRedis(directory / "redis").start()
        stack.callback(redis_server.stop)
        emulator = ManagedProcess(
            "emulator",
            ["-m", "emulator", "--host", "127.0.0.1", "--port", "0", *emulator_args],
            dict(os.environ),
            directory / "emulator.log",
        )
        match = emulator.start(r"emulator listening on (https?://[\d.]+:\d+)", timeout=30)
        stack.callback(emulator.stop)
        base = match.group(1)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("EXAI_", "KIMI_", "GLM_", "MOONSHOT_", "ZHIPUAI_"))
        }
        env.update(
            {
                "REDIS_URL": redis_server.url,
                "KIMI_API_URL": f"{base}/v1",
                "GLM_API_URL": f"{base}/api/paas/v4",
                "KIMI_API_KEY": "test-kimi-key-not-secret-1",
                "GLM_API_KEY": "test-glm-key-not-secret-2",
                "EXAI_WORKER_CONCURRENCY": "200",
                "LOG_LEVEL": "INFO",
                "PYTHONUNBUFFERED": "1",
                "EXAI_RETRY_BACKOFF_BASE_S": "0.05",
                "EXAI_RETRY_BACKOFF_MAX_S": "0.5",
                "EXAI_PROVIDER_READ_TIMEOUT_S": "5",
                "EXAI_PROVIDER_CONNECT_TIMEOUT_S": "2",
                "EXAI_PROGRESS_INTERVAL_S": "1",
            }
        )
        if token:
            env["EXAI_WS_TOKEN"] = token
        elif "EXAI_WS_TOKENS" not in settings:
            env["EXAI_AUTH"] = "none"  # token=None means no authentication, as it always has
        # A test never reads or writes the user's own ~/.config/exai-mcp/ws-token.
        env["EXAI_WS_TOKEN_FILE"] = str(directory / "ws-token")
        env.update(settings)
        result = Stack(directory=directory, redis=redis_server, env=env, emulator=emulator, emulator_url=base)
        stack.callback(lambda: [w.stop() for w in result.workers])
        for _ in range(workers):
            result.start_worker()
        stack.callback(lambda: result.gateway and result.gateway.stop())
        result.start_gateway()
        stack.callback(lambda: result.monitor and result.monitor.stop())
        if monitor:
            result.start_monitor()
        yield result
