"""Building the netpol world from loaded objects: pods, templates, nodes, namespaces, policies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stockade.engines.netpol import Analyzer, Options, World
from stockade.engines.netpol.inventory import world_from_inventory
from stockade.loading import load_paths

DATA = Path(__file__).resolve().parent / "data"


def load(name: str, **options: Any) -> World:
    result = load_paths([str(DATA / name)])
    assert not result.errors
    return world_from_inventory(result.inventory, Options(**options))


def test_cluster_dump_pods_replace_their_deployment() -> None:
    w = load("cluster-dump.deployment-with-pods.yaml")
    assert sorted(w.pods) == ["web/api-5d8f9b7c4-abcde", "web/api-5d8f9b7c4-fghij"]
    pod = w.pods["web/api-5d8f9b7c4-abcde"]
    assert [str(ip) for ip in pod.ips] == ["10.244.0.5"] and pod.node == "node-a"
    assert pod.resolve_named_port("http", "TCP") == 8080
    assert w.aliases["web/api"] == "web/api-5d8f9b7c4-abcde"
    assert w.aliases["web/Deployment/api"] == "web/api-5d8f9b7c4-abcde"
    node = w.nodes["node-a"]
    assert [str(ip) for ip in node.ips] == ["172.18.0.2"] and node.labels == {"zone": "a"}
    assert w.namespaces["web"].labels == {"kubernetes.io/metadata.name": "web"}


def test_templates_have_no_ip_and_finished_pods_are_left_out() -> None:
    w = load("fail.sensitive-notebook-egress-internet.yaml")
    assert sorted(w.pods) == ["notebooks/alice-notebook", "research/bob"]
    w = load("ml-serving.yaml")
    server = w.pods["serving/model-server"]
    assert server.kind == "Deployment" and server.ips == () and server.is_template
    assert server.labels == {"app": "model-server", "data": "sensitive"}
    assert w.namespaces["monitoring"].labels["purpose"] == "monitoring"


def test_invalid_policy_is_kept_out_and_reported() -> None:
    w = load("fail.policy-mistakes.yaml")
    assert [(s.ref, s.reason) for s in w.skipped] == [
        (
            "NetworkPolicy/serving/bad-except",
            "spec.ingress[0].from[0].ipBlock.except[0]: must be a strict subset of cidr 10.0.0.0/16",
        )
    ]
    assert "serving/bad-except" in w.policy_sources
    assert all(p.name != "bad-except" for p in w.policies)


def test_multi_template_workloads_are_addressed_by_role() -> None:
    root = Path(__file__).resolve().parents[2] / "examples" / "ml-platform"
    result = load_paths([str(root)])
    w = world_from_inventory(result.inventory)
    assert "serving/fraud-detector:predictor" in w.pods
    v = Analyzer(w).check("platform-gateway/api-gateway", "serving/fraud-detector:predictor", 8080)
    assert v.allowed and v.ingress.by == ("serving/predictor-from-gateway:ingress[0]",)


def test_same_name_pod_and_workloads_are_all_kept() -> None:
    w = load("same-name-pod-and-workloads.yaml")
    assert sorted(w.pods) == ["data/Deployment/db", "data/StatefulSet/db", "data/db"]
    analyzer = Analyzer(w)
    assert analyzer.check("data/Deployment/db", "data/StatefulSet/db", 5432).allowed
    assert not analyzer.check("data/db", "data/StatefulSet/db", 5432).allowed  # the Pod is app=debug
    assert analyzer.resolve("data/db").pod is w.pods["data/db"]  # the Pod keeps the short name


def test_operator_created_pod_stands_for_its_custom_resource() -> None:
    w = load("cluster-dump.kserve-pods.yaml")
    assert sorted(w.pods) == ["serving/fraud-predictor-00001-deployment-7c9d8-abcde"]
    assert w.aliases["serving/fraud:predictor"] == "serving/fraud-predictor-00001-deployment-7c9d8-abcde"
    assert (
        Analyzer(w).resolve("serving/fraud:predictor").pod
        is w.pods["serving/fraud-predictor-00001-deployment-7c9d8-abcde"]
    )
