"""Audit policy checks on named policy files: which check fired, on which rule and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from stockade.checks.registry import ScanContext, all_checks, runners
from stockade.config import Config
from stockade.loading import load_paths

CASES = Path(__file__).parent / "checks"

EXPECTED: dict[str, set[tuple[str, str, str]]] = {
    "pass.recommended-ml-platform-policy.yaml": set(),
    # Upstream GCE policy: the namespace controller's deletecollection is recorded at Request for
    # every resource, secrets included (no credential in that body, but above Metadata).
    "fail.gce-style-policy.yaml": {
        (
            "audit-policy.sensitive-request-bodies",
            "rules[11].level",
            "rules[11] records secrets, configmaps, token requests, TokenReviews at Request "
            "(e.g. system:serviceaccount:kube-system:namespace-controller: deletecollection secrets)",
        ),
    },
    "fail.policy-file-in-configmap.yaml": {
        (
            "audit-policy.sensitive-request-bodies",
            'data["audit-policy.yaml"].rules[0].level',
            "rules[0] records secrets at RequestResponse (e.g. a user: get secrets)",
        ),
    },
    "fail.secrets-at-request-response.yaml": {
        (
            "audit-policy.sensitive-request-bodies",
            "rules[1].level",
            "rules[1] records secrets at RequestResponse (e.g. a user: get secrets)",
        ),
    },
    "fail.broad-request-rule-before-metadata.yaml": {
        (
            "audit-policy.sensitive-request-bodies",
            "rules[1].level",
            "rules[1] records secrets, configmaps, token requests, TokenReviews at Request "
            "(e.g. a user: create secrets)",
        ),
        (
            "audit-policy.shadowed-rule",
            "rules[2]",
            "rules[2] (Metadata) is never reached: every request it matches is decided by rules[1]",
        ),
    },
    "fail.exec-and-webhooks-dropped.yaml": {
        (
            "audit-policy.pod-exec-not-recorded",
            "rules[0]",
            "a user: create pods/exec in serving: rules[0] drops it (level None)",
        ),
        (
            "audit-policy.webhook-changes-not-recorded",
            "rules[1]",
            "a user: create mutatingwebhookconfigurations.admissionregistration.k8s.io (cluster-wide): "
            "rules[1] drops it (level None)",
        ),
        (
            "audit-policy.workload-changes-not-recorded",
            "rules[0]",
            "a user: create pods in serving: rules[0] drops it (level None)",
        ),
    },
    "fail.only-specific-rules.yaml": {
        (
            "audit-policy.no-catch-all",
            "rules",
            "requests no rule matches are not recorded (e.g. a user: get pods)",
        ),
        ("audit-policy.pod-exec-not-recorded", "rules", "a user: get pods/proxy: no rule matches"),
        ("audit-policy.workload-changes-not-recorded", "rules", "a user: create pods: no rule matches"),
    },
    "fail.catch-all-at-none.yaml": {
        (
            "audit-policy.no-catch-all",
            "rules[1].level",
            "rules[1] matches every remaining request at level None",
        ),
        (
            "audit-policy.pod-exec-not-recorded",
            "rules[1]",
            "a user: get pods/proxy: rules[1] drops it (level None)",
        ),
        (
            "audit-policy.workload-changes-not-recorded",
            "rules[1]",
            "a user: create pods: rules[1] drops it (level None)",
        ),
    },
    "fail.healthz-exception-after-catch-all.yaml": {
        (
            "audit-policy.request-received-recorded",
            "",
            "not omitted by the policy nor by rules[0], rules[2]",  # rules[1] is unreachable
        ),
        (
            "audit-policy.shadowed-rule",
            "rules[1]",
            "rules[1] (RequestResponse) is never reached: every request it matches is decided by rules[0]",
        ),
        (
            "audit-policy.shadowed-rule",
            "rules[3]",
            "rules[3] (None) is never reached: every request it matches is decided by rules[2]",
        ),
    },
    "fail.resource-names-without-resources.yaml": {
        (
            "audit-policy.invalid-policy",
            "rules[1]",
            "rules[1].resources[0]: using resourceNames requires at least one resource",
        ),
    },
}


def _findings(path: Path) -> tuple[set[tuple[str, str, str]], dict[tuple[str, str], int | None]]:
    result = load_paths([str(path)])
    assert not result.errors
    ctx = ScanContext(result.inventory, Config())
    got: set[tuple[str, str, str]] = set()
    lines: dict[tuple[str, str], int | None] = {}
    mine = [c for c in all_checks() if c.spec.area == "audit-policy"]
    for _group, run in runners(mine):
        for f in run(ctx):
            got.add((f.check_id, f.path, f.detail))
            lines[(f.check_id, f.path)] = f.location.line if f.location else None
    return got, lines


def test_every_case_file_has_expectations() -> None:
    assert sorted(p.name for p in CASES.glob("*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(name: str) -> None:
    got, _ = _findings(CASES / name)
    assert got == EXPECTED[name]


def test_findings_point_at_the_rule_line() -> None:
    _, lines = _findings(CASES / "fail.healthz-exception-after-catch-all.yaml")
    assert lines[("audit-policy.shadowed-rule", "rules[3]")] == 13
    assert lines[("audit-policy.shadowed-rule", "rules[1]")] == 8


def test_non_audit_policy_kinds_are_ignored(tmp_path: Path) -> None:
    f = tmp_path / "other-policy.yaml"
    f.write_text("apiVersion: example.com/v1\nkind: Policy\nmetadata: {name: x}\nrules: [{level: Bogus}]\n")
    got, _ = _findings(f)
    assert got == set()


def test_every_spec_is_well_formed() -> None:
    specs = [c.spec for c in all_checks() if c.spec.area == "audit-policy"]
    assert len(specs) == 10
    for s in specs:
        assert s.remediation.endswith("."), s.id
        assert s.references and all(r.url.startswith("https://kubernetes.io/") for r in s.references), s.id


def test_configmap_policy_points_at_the_rule_inside_the_value() -> None:
    _, lines = _findings(CASES / "fail.policy-file-in-configmap.yaml")
    assert lines[("audit-policy.sensitive-request-bodies", 'data["audit-policy.yaml"].rules[0].level')] == 13
