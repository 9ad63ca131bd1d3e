"""deploy/kubernetes/, validated offline against the Kubernetes schemas (kubernetes-validate)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

from contracts.names import TOOL_QUEUE

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "deploy" / "kubernetes"
CRDS = {"ScaledObject", "Kustomization"}  # not in the Kubernetes schemas: checked by hand below


def documents() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


def by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in documents() if d["kind"] == kind}


def test_every_manifest_is_valid_against_the_kubernetes_schemas() -> None:
    """Strict validation: no unknown field, no wrong type, in any built-in resource."""
    checked = 0
    for doc in documents():
        if doc["kind"] in CRDS:
            continue
        kubernetes_validate.validate(doc, "1.30", strict=True)
        checked += 1
    assert checked >= 10


def test_kustomization_lists_every_manifest() -> None:
    """`kubectl apply -k deploy/kubernetes` applies all of them."""
    listed = set(yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in MANIFESTS.glob("*.yaml")} - {"kustomization.yaml"}


def test_probes_are_wired_to_livez_and_readyz() -> None:
    """The gateway and the monitor answer liveness on /livez and readiness on /readyz."""
    deployments = by_kind("Deployment")
    for name in ("exai-gateway", "exai-monitor"):
        container = deployments[name]["spec"]["template"]["spec"]["containers"][0]
        assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    worker = deployments["exai-worker"]["spec"]["template"]["spec"]["containers"][0]
    assert "inspect ping" in " ".join(worker["livenessProbe"]["exec"]["command"])


def test_keda_scales_the_worker_deployment_on_the_tool_queue() -> None:
    """The ScaledObject targets the worker Deployment and reads the Redis list Celery queues calls on."""
    scaled = by_kind("ScaledObject")["exai-worker"]
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    assert scaled["spec"]["scaleTargetRef"]["name"] in by_kind("Deployment")
    trigger = scaled["spec"]["triggers"][0]
    assert trigger["type"] == "redis"
    assert trigger["metadata"]["listName"] == TOOL_QUEUE
    assert int(trigger["metadata"]["listLength"]) > 0


def test_disruption_budgets_cover_the_gateway_and_the_workers() -> None:
    """Each budget selects pods a Deployment actually makes."""
    labels = {
        name: d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]
        for name, d in by_kind("Deployment").items()
    }
    selected = {
        b["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
        for b in by_kind("PodDisruptionBudget").values()
    }
    assert selected == {labels["exai-gateway"], labels["exai-worker"]}


def test_services_expose_named_container_ports() -> None:
    """Every Service targets a port name its pods declare."""
    pods = {
        d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]: {
            p["name"] for c in d["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])
        }
        for d in [*by_kind("Deployment").values(), *by_kind("StatefulSet").values()]
    }
    for service in by_kind("Service").values():
        names = pods[service["spec"]["selector"]["app.kubernetes.io/name"]]
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in names, (service["metadata"]["name"], port)
