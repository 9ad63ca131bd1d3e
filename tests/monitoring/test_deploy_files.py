"""deploy/: Prometheus alert rules and config pass promtool; Grafana and rules use real metric names."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from monitoring.metrics import Metrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SUFFIXES = ("_bucket", "_count", "_sum")


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not installed (Debian package `prometheus`; .ci/run installs it)")
    return subprocess.run([promtool, *args], capture_output=True, text=True, cwd=DEPLOY / "prometheus")


def _served_names() -> set[str]:
    text = Metrics().render().decode()
    return set(re.findall(r"^# TYPE (\w+)", text, re.MULTILINE)) | {
        m.group(1) for m in re.finditer(r"^(\w+)[{ ]", text, re.MULTILINE)
    }


def _referenced(expressions: list[str]) -> set[str]:
    names = set()
    for expr in expressions:
        for name in re.findall(r"\b(mcp_\w+)", expr):
            for suffix in SUFFIXES:
                name = name.removesuffix(suffix)
            names.add(name)
    return names


def _counter_or_family(name: str, served: set[str]) -> bool:
    # Counters are served as name_total with TYPE name; histograms as name_bucket with TYPE name.
    return name in served or name.removesuffix("_total") in served


def test_the_alert_rules_pass_promtool() -> None:
    """`promtool check rules` accepts alerts.yml."""
    checked = _promtool("check", "rules", "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_alert_rules_fire_as_their_unit_tests_expect() -> None:
    """`promtool test rules` runs alerts_test.yml (no workers, breaker open, no backlog)."""
    checked = _promtool("test", "rules", "alerts_test.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_prometheus_config_is_valid() -> None:
    """`promtool check config` accepts prometheus.yml and its rule file."""
    checked = _promtool("check", "config", "--syntax-only", "prometheus.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_grafana_and_alerts_only_use_metrics_the_monitor_serves() -> None:
    """Every mcp_* name in the dashboard JSON and the alert rules is served by the monitor."""
    dashboard = json.loads((DEPLOY / "grafana" / "exai-mcp.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    rules = (DEPLOY / "prometheus" / "alerts.yml").read_text()
    served = _served_names()
    missing = {n for n in _referenced([*exprs, rules]) if not _counter_or_family(n, served)}
    assert not missing, f"not served by the monitor: {sorted(missing)}"
    assert dashboard["uid"] and len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
