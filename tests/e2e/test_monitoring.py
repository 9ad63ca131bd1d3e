"""Monitoring against a real running stack: health, metrics, dashboard, correlation ids in logs."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import anyio
import httpx
import pytest
from websockets.sync.client import connect as ws_connect

from cli.local_redis import free_port
from tests.support import polling
from tests.support.browser import Page, chromium_page
from tests.support.clients import mcp_session
from tests.support.processes import ManagedProcess
from tests.support.stack import Stack, running_stack

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

DASHBOARD_TOKEN = "dashboard-token-0123456789"
WAIT = 45.0  # generous: other suites may share the two cores
T = TypeVar("T")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack with the monitor, flushing metric events fast so waits stay short."""
    with running_stack(
        tmp_path_factory.mktemp("monitoring"),
        monitor=False,
        EXAI_TELEMETRY_FLUSH_S="0.2",
        EXAI_DASHBOARD_TOKEN=DASHBOARD_TOKEN,
    ) as running:
        running.start_monitor()
        yield running


def eventually(probe: Callable[[], T | None], what: str, timeout: float = WAIT) -> T:
    """Poll ``probe`` until it returns something truthy, within a bound (HTTP errors: try again)."""
    return polling.eventually(probe, what, timeout, tolerate=(httpx.HTTPError, OSError))


def metric_value(text: str, metric: str, /, **labels: str) -> float:
    """The sum of a metric's samples whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(metric + "{") and not line.startswith(metric + " "):
            continue
        sample, value = line.rsplit(" ", 1)
        found = dict(re.findall(r'(\w+)="([^"]*)"', sample))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(value)
    return total


def scrape(stack: Stack) -> str:
    return httpx.get(stack.monitor_urls["metrics"], timeout=10).text


async def chat(stack: Stack, prompt: str, correlation: str | None = None, model: str = "kimi-k2.6") -> Any:
    async with mcp_session(stack.authed_url) as session:
        meta = {"io.exai/correlation_id": correlation} if correlation else None
        with anyio.fail_after(WAIT):
            return await session.call_tool("chat", {"prompt": prompt, "model": model}, meta=meta)


# --- health -------------------------------------------------------------------------------
def test_liveness_answers_for_the_process_alone(stack: Stack) -> None:
    """/health/live and /livez are 200 with version and a timezone-aware timestamp."""
    base = stack.monitor_urls["health"].removesuffix("/health")
    for path in ("/health/live", "/livez"):
        response = httpx.get(base + path, timeout=10)
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "healthy" and body["version"]
        assert body["timestamp"].endswith("+00:00")


def test_readiness_is_healthy_with_every_component_and_nothing_secret(stack: Stack) -> None:
    """/health, /healthz, /health/ready and /readyz report each component; no secret leaks."""
    base = stack.monitor_urls["health"].removesuffix("/health")

    def ready() -> httpx.Response | None:
        response = httpx.get(base + "/readyz", timeout=10)
        return response if response.status_code == 200 else None

    eventually(ready, "a healthy readiness answer")
    for path in ("/health", "/healthz", "/health/ready", "/readyz"):
        response = httpx.get(base + path, timeout=10)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "healthy"
        names = {c["name"] for c in body["components"]}
        assert {"redis", "workers", "queue", "provider:kimi", "provider:glm", "memory", "disk"} <= names
        for component in body["components"]:
            assert component["status"] in ("ok", "warn") and component["message"]
        workers = next(c for c in body["components"] if c["name"] == "workers")
        assert workers["up"] == 1 and workers["concurrency"] == 200
        secrets = [stack.env[k] for k in ("EXAI_WS_TOKEN", "KIMI_API_KEY", "GLM_API_KEY")]
        for secret in (*secrets, DASHBOARD_TOKEN, "redis://"):
            assert secret not in response.text


async def test_calls_in_flight_do_not_degrade_health(stack: Stack) -> None:
    """A slow call running while health is asked leaves it healthy, with the call counted."""
    base = stack.monitor_urls["health"].removesuffix("/health")
    async with mcp_session(stack.authed_url) as session, anyio.create_task_group() as group:
        group.start_soon(
            session.call_tool, "chat", {"prompt": "emulate:latency_ms=4000 slow", "model": "kimi-k2.6"}
        )

        def busy() -> dict[str, Any] | None:
            response = httpx.get(base + "/health", timeout=10)
            body: dict[str, Any] = response.json()
            return body if body["in_flight"] >= 1 else None

        body = await anyio.to_thread.run_sync(lambda: eventually(busy, "a call in flight"))
        assert body["status"] == "healthy"


# --- metrics ------------------------------------------------------------------------------
async def test_metrics_count_calls_provider_use_and_tokens_across_processes(stack: Stack) -> None:
    """Calls made through the gateway and run on the worker show up in the monitor's metrics."""
    before = scrape(stack)
    base_calls = metric_value(before, "mcp_tool_calls_total", tool="chat", status="ok")
    base_api = metric_value(before, "mcp_api_calls_total", provider="glm", model="glm-4.6", status="ok")
    for i in range(3):
        result = await chat(stack, f"metrics {i}", model="glm-4.6")
        assert result.isError is False

    def counted() -> str | None:
        text = scrape(stack)
        done = metric_value(text, "mcp_tool_calls_total", tool="chat", status="ok") >= base_calls + 3
        api = metric_value(text, "mcp_api_calls_total", provider="glm", model="glm-4.6", status="ok")
        return text if done and api >= base_api + 3 else None

    text = await anyio.to_thread.run_sync(lambda: eventually(counted, "the calls in the metrics"))
    assert metric_value(text, "mcp_tokens_total", provider="glm", model="glm-4.6", type="completion") > 0
    assert metric_value(text, "mcp_tokens_total", provider="glm", model="glm-4.6", type="prompt") > 0
    assert metric_value(text, "mcp_tool_call_duration_seconds_count", tool="chat") >= 3
    assert metric_value(text, "mcp_api_latency_seconds_count", provider="glm", model="glm-4.6") >= 3
    assert metric_value(text, "mcp_requests_total", method="initialize", status="ok") >= 3
    assert metric_value(text, "mcp_requests_total", method="tools/call", status="ok") >= 3
    assert metric_value(text, "mcp_workers_up") == 1
    assert metric_value(text, "mcp_gateways_up") == 1
    assert metric_value(text, "mcp_queue_length", queue="exai.tools") == 0
    assert metric_value(text, "mcp_process_resident_memory_bytes", role="worker") > 0
    assert metric_value(text, "process_resident_memory_bytes") > 0
    assert "mcp_provider_breaker_state" in text


async def test_open_connections_are_a_gauge_summed_over_gateways(stack: Stack) -> None:
    """mcp_active_connections rises while a client is connected."""
    async with mcp_session(stack.authed_url):

        def connected() -> bool:
            return metric_value(scrape(stack), "mcp_active_connections") >= 1

        await anyio.to_thread.run_sync(lambda: eventually(connected, "an open connection"))


async def test_retries_and_provider_errors_are_counted_by_reason(stack: Stack) -> None:
    """A rate-limited first attempt shows as a retry and an API error of that kind."""
    stack.fault("rate_limit", count=1, provider="kimi")
    result = await chat(stack, "retry me", model="kimi-k2.6")
    assert result.isError is False

    def counted() -> str | None:
        text = scrape(stack)
        return (
            text
            if metric_value(text, "mcp_retries_total", provider="kimi", reason="rate_limit") >= 1
            else None
        )

    text = await anyio.to_thread.run_sync(lambda: eventually(counted, "the retry in the metrics"))
    assert metric_value(text, "mcp_api_calls_total", provider="kimi", status="rate_limit") >= 1
    assert metric_value(text, "mcp_errors_total", component="provider", error_type="rate_limit") >= 1


def test_the_metrics_pass_promtool_and_have_no_unbounded_labels(stack: Stack, tmp_path: Path) -> None:
    """`promtool check metrics` accepts the exposition; no label holds an id."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not installed (Debian package `prometheus`; .ci/run installs it)")
    text = scrape(stack)
    checked = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    hex_id = re.compile(r'="[0-9a-f]{32}"')
    assert not hex_id.search(text)


# --- correlation ids ------------------------------------------------------------------------
async def test_one_correlation_id_follows_a_call_through_gateway_worker_provider_and_result(
    stack: Stack,
) -> None:
    """The client's id is in the result, every log line about the call on both sides, and the provider."""
    correlation = f"trace-{uuid.uuid4().hex[:12]}"
    gateway_mark, worker_mark = stack.gateway.line_count, stack.workers[0].line_count  # type: ignore[union-attr]
    result = await chat(stack, "follow me", correlation=correlation)
    assert result.isError is False
    assert result.meta["io.exai/correlation_id"] == correlation  # type: ignore[index]
    call_id = result.meta["io.exai/call_id"]  # type: ignore[index]
    assert stack.emulator_stats()["by_request_id"].get(correlation), stack.emulator_stats()

    worker = stack.workers[0]
    await anyio.to_thread.run_sync(
        lambda: worker.wait_for(rf"\[{correlation}\].*succeeded", timeout=WAIT, start=worker_mark)
    )
    gateway_lines = [
        line
        for line in stack.gateway.text().splitlines()[gateway_mark:]
        if call_id in line  # type: ignore[union-attr]
    ]
    worker_lines = [line for line in worker.text().splitlines()[worker_mark:] if call_id in line]
    assert gateway_lines and worker_lines
    assert any("received" in line for line in worker_lines)  # Celery's own line, outside the task
    for line in gateway_lines + worker_lines:
        assert f"[{correlation}]" in line, line


async def test_without_a_client_id_the_call_id_is_the_correlation_id(stack: Stack) -> None:
    """A call with no `_meta` id gets one at the gateway, returned in the result."""
    result = await chat(stack, "no id")
    assert result.meta["io.exai/correlation_id"] == result.meta["io.exai/call_id"]  # type: ignore[index]


# --- dashboard -----------------------------------------------------------------------------
def test_the_dashboard_needs_its_token(stack: Stack) -> None:
    """Without the token the page and its WebSocket are refused; with it the page loads."""
    url = stack.monitor_urls["dashboard"]
    assert httpx.get(url, timeout=10).status_code == 401
    assert httpx.get(url + "?token=wrong-token-000000000", timeout=10).status_code == 401
    page = httpx.get(f"{url}?token={DASHBOARD_TOKEN}", timeout=10)
    assert page.status_code == 200 and "<title>exai-mcp dashboard</title>" in page.text
    assert "http://" not in page.text.replace("http://www.w3.org", "")  # no external asset
    assert httpx.get(url + "state", timeout=10).status_code == 401


async def test_the_dashboard_pushes_a_call_with_its_correlation_id(stack: Stack) -> None:
    """The WebSocket pushes the state about once a second; a call made now appears in it."""
    correlation = f"dash-{uuid.uuid4().hex[:12]}"
    result = await chat(stack, "for the dashboard", correlation=correlation)
    assert result.isError is False
    ws_url = stack.monitor_urls["dashboard"].replace("http://", "ws://") + f"ws?token={DASHBOARD_TOKEN}"

    def watch() -> dict[str, Any]:
        with ws_connect(ws_url, open_timeout=10) as ws:
            deadline = time.monotonic() + WAIT
            while time.monotonic() < deadline:
                state: dict[str, Any] = json.loads(ws.recv(timeout=10))
                if any(c["correlation_id"] == correlation for c in state["recent"]):
                    return state
        raise AssertionError("the call never appeared on the dashboard")

    state = await anyio.to_thread.run_sync(watch)
    call = next(c for c in state["recent"] if c["correlation_id"] == correlation)
    assert call["tool"] == "chat" and call["status"] == "ok" and call["duration_s"] > 0
    assert state["workers"][0]["concurrency"] == 200
    assert state["queues"][0]["name"] == "exai.tools"
    assert "chat" in state["latency"] and state["latency"]["chat"]["p95"] >= state["latency"]["chat"]["p50"]
    assert set(state["providers"]) == {"kimi", "glm"}


# --- Celery's own monitoring: Flower and celery-exporter -------------------------------------
FLOWER_PASSWORD = "flower-password-for-tests"


@pytest.fixture(scope="module")
def flower(stack: Stack) -> Iterator[str]:
    """`exai flower` on a free port, behind basic auth; yields its base URL."""
    port = free_port()
    process = ManagedProcess(
        "flower",
        ["-m", "cli.main", "flower"],
        {**stack.env, "EXAI_FLOWER_PORT": str(port), "EXAI_FLOWER_PASSWORD": FLOWER_PASSWORD},
        stack.directory / "flower.log",
    )
    try:
        process.start(r"Visit me at", timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop()


@pytest.fixture(scope="module")
def exporter(stack: Stack) -> Iterator[str]:
    """`exai exporter` (celery-exporter from .venv-exporter) on a free port; yields its base URL."""
    port = free_port()
    process = ManagedProcess(
        "exporter",
        ["-m", "cli.main", "exporter"],
        {**stack.env, "EXAI_EXPORTER_PORT": str(port)},
        stack.directory / "exporter.log",
    )
    try:
        process.start(r"Started celery-exporter", timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop()


async def test_flower_shows_the_calls_made_behind_basic_auth_without_their_prompts(
    stack: Stack, flower: str
) -> None:
    """Flower sees the worker, then the call's task, by call id; its API needs the password."""
    auth = ("exai", FLOWER_PASSWORD)

    def workers_online() -> float:
        metrics = httpx.get(f"{flower}/metrics", auth=auth, timeout=10)  # /metrics needs the password too
        return metric_value(metrics.text, "flower_worker_online")

    eventually(lambda: workers_online() >= 1, "Flower to see the worker")
    result = await chat(stack, "secret prompt for flower")
    call_id = result.meta["io.exai/call_id"]  # type: ignore[index]
    assert httpx.get(f"{flower}/api/tasks", timeout=10).status_code == 401

    def seen() -> dict[str, Any] | None:
        tasks = httpx.get(f"{flower}/api/tasks", auth=auth, timeout=10).json()
        task: dict[str, Any] | None = tasks.get(call_id)
        return task if task and task.get("state") == "SUCCESS" else None

    task = await anyio.to_thread.run_sync(lambda: eventually(seen, "the call in Flower"))
    assert task["name"] == "exai.tool.chat"
    assert "secret prompt" not in json.dumps(task)
    assert result.meta["io.exai/correlation_id"] in str(task.get("kwargs"))  # type: ignore[index]


async def test_flower_pages_and_api_carry_no_configured_secret(stack: Stack, flower: str) -> None:
    """What an operator sees in Flower (pages, API, metrics) holds none of the configured secrets."""
    auth = ("exai", FLOWER_PASSWORD)
    assert (await chat(stack, "scan flower for secrets")).isError is False
    secrets = [
        stack.env[name] for name in ("KIMI_API_KEY", "GLM_API_KEY", "EXAI_WS_TOKEN") if stack.env.get(name)
    ]
    secrets += [FLOWER_PASSWORD, DASHBOARD_TOKEN]
    for path in (
        "/",
        "/workers",
        "/tasks",
        "/broker",
        "/metrics",
        "/healthcheck",
        "/api/workers",
        "/api/tasks",
    ):
        response = httpx.get(f"{flower}{path}", auth=auth, timeout=10)
        assert response.status_code == 200, path
        leaked = [secret for secret in secrets if secret in response.text]
        assert not leaked, f"{path} shows a configured secret"


async def test_celery_exporter_counts_the_calls_made(stack: Stack, exporter: str) -> None:
    """celery-exporter (its own venv) reports the worker up and the call's task as succeeded."""

    def text() -> str:
        return httpx.get(f"{exporter}/metrics", timeout=10).text

    eventually(lambda: metric_value(text(), "celery_worker_up") >= 1, "the exporter to see the worker")
    before = metric_value(text(), "celery_task_succeeded_total", name="exai.tool.chat")
    for i in range(2):
        assert (await chat(stack, f"exporter {i}")).isError is False
    await anyio.to_thread.run_sync(
        lambda: eventually(
            lambda: metric_value(text(), "celery_task_succeeded_total", name="exai.tool.chat") >= before + 2,
            "the calls in celery-exporter",
        )
    )
    assert "celery_queue_length" in text()


# --- the dashboard in a real browser ---------------------------------------------------------
async def test_the_dashboard_page_connects_and_shows_a_call_in_headless_chromium(
    stack: Stack, tmp_path: Path
) -> None:
    """Chromium loads the page, its WebSocket connects, and a call made now appears with its id."""
    await chat(stack, "warm up", model="glm-4.6")
    stack.fault("rate_limit", count=1, provider="glm")
    await chat(stack, "retried once", model="glm-4.6")
    stack.fault("quota", count=1, provider="kimi")
    await chat(stack, "fails with quota", model="kimi-k2.6")
    url = f"{stack.monitor_urls['dashboard']}?token={DASHBOARD_TOKEN}"
    correlation = f"browser-{uuid.uuid4().hex[:12]}"
    shot = tmp_path / "dashboard.png"

    def browse(page: Page) -> None:
        page.navigate(url)
        page.wait_for("document.body && document.body.dataset.connection === 'ok'", timeout=WAIT)
        anyio.from_thread.run(chat, stack, "shown in the browser", correlation)
        ids = "[...document.querySelectorAll('code.cid')].map(e => e.textContent)"
        shown = f"{ids}.includes({json.dumps(correlation)})"
        page.wait_for(shown, timeout=WAIT)
        assert page.evaluate("document.getElementById('workers').textContent").count("exai-") == 1
        page.screenshot(shot)

    def run() -> None:
        with chromium_page(tmp_path / "profile") as page:
            browse(page)

    await anyio.to_thread.run_sync(run)
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 10_000
    if os.environ.get("EXAI_DOCS_SCREENSHOT"):  # refresh the picture in the README
        shutil.copy(shot, Path(__file__).resolve().parents[2] / "docs" / "dashboard.png")


# --- last, as it stops the module's worker ----------------------------------------------------
def test_health_turns_unhealthy_and_metrics_drop_the_worker_when_it_stops(stack: Stack) -> None:
    """A worker that shuts down removes its heartbeat: 503, `workers` unhealthy, mcp_workers_up 0."""
    base = stack.monitor_urls["health"].removesuffix("/health")
    stack.workers[0].stop()

    def unhealthy() -> dict[str, Any] | None:
        response = httpx.get(base + "/readyz", timeout=10)
        return response.json() if response.status_code == 503 else None  # type: ignore[no-any-return]

    body = eventually(unhealthy, "readiness to fail without a worker")
    workers = next(c for c in body["components"] if c["name"] == "workers")
    assert workers["status"] == "unhealthy" and workers["up"] == 0
    assert httpx.get(base + "/livez", timeout=10).status_code == 200  # the monitor itself is fine
    assert metric_value(scrape(stack), "mcp_workers_up") == 0
