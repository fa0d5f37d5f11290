"""The netpol scan checks: which check fires, on which object and field, and why."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from stockade.checks.registry import all_checks
from stockade.config import Config
from stockade.errors import ConfigError
from stockade.model import Finding
from stockade.scan import ScanOptions, scan_paths

DATA = Path(__file__).resolve().parent / "data"


def scan(name: str, config: dict[str, Any] | None = None) -> list[Finding]:
    report = scan_paths(
        [str(DATA / name)],
        Config.from_mapping(config or {}),
        ScanOptions(select=("netpol.*",), render_kustomize=False),
    )
    assert not report.errors, report.errors
    return list(report.findings)


def found(findings: list[Finding]) -> set[tuple[str, str, str]]:
    return {(f.check_id, str(f.subject), f.path) for f in findings}


def by_id(findings: list[Finding], check_id: str) -> list[Finding]:
    return [f for f in findings if f.check_id == check_id]


def test_clean_namespace_has_no_findings() -> None:
    assert scan("pass.namespace-default-deny-with-dns.yaml") == []


def test_sensitive_notebook_with_internet_egress() -> None:
    findings = scan("fail.sensitive-notebook-egress-internet.yaml")
    subject = "Pod/notebooks/alice-notebook"
    assert found(findings) >= {
        ("netpol.sensitive-egress-external", subject, "metadata.labels"),
        ("netpol.sensitive-egress-all-namespaces", subject, "metadata.labels"),
        ("netpol.reachable-from-outside", subject, "metadata.labels"),
        ("netpol.reachable-from-all-namespaces", subject, "metadata.labels"),
        ("netpol.egress-blocks-dns", subject, "metadata.labels"),
        ("netpol.no-default-deny-ingress", "Namespace/notebooks", "metadata"),
    }
    (ext,) = by_id(findings, "netpol.sensitive-egress-external")
    assert ext.detail == "notebooks/alice-notebook: egress to ip:198.51.100.10 TCP/443"
    (dns,) = by_id(findings, "netpol.egress-blocks-dns")
    assert dns.message == "egress blocks DNS over TCP"
    (wide,) = [f for f in by_id(findings, "netpol.no-default-deny-ingress") if "notebooks" in str(f.subject)]
    assert wide.detail == "notebooks: namespace-wide notebooks/allow-all-ingress allows all ingress"
    # The finished pod holds no IP and runs nothing: it is not analysed.
    assert not any("finished-job" in f.detail for f in findings)


def test_sensitive_label_is_configurable() -> None:
    findings = scan("fail.sensitive-notebook-egress-internet.yaml", {"netpol": {"sensitive_labels": ["app=bob"]}})
    # bob has no egress policy at all: the internet and every namespace are open to it.
    assert {(f.check_id, str(f.subject)) for f in findings if f.check_id.startswith("netpol.sensitive")} == {
        ("netpol.sensitive-egress-external", "Pod/research/bob"),
        ("netpol.sensitive-egress-all-namespaces", "Pod/research/bob"),
    }
    findings = scan("fail.sensitive-notebook-egress-internet.yaml", {"netpol": {"sensitive_labels": ["app"]}})
    assert {str(f.subject) for f in by_id(findings, "netpol.sensitive-egress-external")} == {
        "Pod/notebooks/alice-notebook",
        "Pod/research/bob",
    }


def test_bad_netpol_config_names_the_key() -> None:
    config = Config.from_mapping({"netpol": {"sensitive_labels": {"data": "sensitive"}}})
    # A bad setting stops the scan at the edge (one line, exit 2), rather than failing each check.
    with pytest.raises(ConfigError, match=r"netpol\.sensitive_labels must be a list"):
        scan_paths([str(DATA / "fail.dns-udp-only.yaml")], config, ScanOptions(select=("netpol.*",)))


def test_policy_authoring_mistakes() -> None:
    findings = scan("fail.policy-mistakes.yaml")
    assert found(findings) >= {
        ("netpol.policy-selects-nothing", "NetworkPolicy/serving/typo", "spec.podSelector"),
        ("netpol.peer-matches-nothing", "NetworkPolicy/serving/scrape", "spec.ingress[0].from[1]"),
        ("netpol.named-port-undefined", "NetworkPolicy/serving/scrape", "spec.ingress[0].ports[0].port"),
        ("netpol.invalid-policy", "NetworkPolicy/serving/bad-except", "spec"),
    }
    (invalid,) = by_id(findings, "netpol.invalid-policy")
    assert "except[0]: must be a strict subset of cidr 10.0.0.0/16" in invalid.detail
    # The namespaceSelector peer matches monitoring: not reported.
    assert (
        "netpol.peer-matches-nothing",
        "NetworkPolicy/serving/scrape",
        "spec.ingress[0].from[0]",
    ) not in found(findings)


def test_dns_over_udp_only() -> None:
    findings = scan("fail.dns-udp-only.yaml")
    assert found(findings) == {
        (
            "netpol.egress-blocks-dns",
            "CronJob/pipelines/nightly-etl",
            "spec.jobTemplate.spec.template.metadata.labels",
        )
    }
    assert findings[0].detail == "pipelines/nightly-etl: no egress rule allows TCP/53 to kube-system/kube-dns"


def test_ml_serving_platform() -> None:
    findings = scan("ml-serving.yaml")
    assert found(findings) == {
        ("netpol.egress-blocks-dns", "Deployment/serving/feature-store", "spec.template.metadata.labels"),
        ("netpol.no-default-deny-ingress", "Namespace/gateway", "metadata"),
        ("netpol.no-default-deny-egress", "Namespace/gateway", "metadata"),
        ("netpol.no-default-deny-ingress", "Namespace/monitoring", "metadata"),
        ("netpol.no-default-deny-egress", "Namespace/monitoring", "metadata"),
        (
            "netpol.reachable-from-all-namespaces",
            "Deployment/gateway/gateway",
            "spec.template.metadata.labels",
        ),
        ("netpol.reachable-from-outside", "Deployment/gateway/gateway", "spec.template.metadata.labels"),
    }


def test_cluster_dump_uses_real_pods_for_a_deployment() -> None:
    findings = scan("cluster-dump.deployment-with-pods.yaml")
    # No Namespace object in the dump: each open pod carries the finding.
    assert found(findings) == {
        ("netpol.no-default-deny-egress", "Pod/web/api-5d8f9b7c4-abcde", "metadata.labels"),
        ("netpol.no-default-deny-egress", "Pod/web/api-5d8f9b7c4-fghij", "metadata.labels"),
    }
    assert sorted(f.detail for f in findings) == [
        "web/api-5d8f9b7c4-abcde: not isolated for egress",
        "web/api-5d8f9b7c4-fghij: not isolated for egress",
    ]


def test_every_netpol_spec_is_well_formed(asset: Callable[[str], Path]) -> None:
    specs = [c.spec for c in all_checks() if c.spec.area == "netpol"]
    assert len(specs) == 11
    for spec in specs:
        assert spec.remediation.endswith("."), spec.id
        assert spec.references and spec.rationale, spec.id
