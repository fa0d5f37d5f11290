"""Conformance: every case of ``../shared/conformance/audit-policy/vectors.yaml`` (all must pass)."""

from __future__ import annotations

from typing import Any

import yaml

from stockade.engines.audit.policy import AuditRequest, Policy
from tests.conftest import record_conformance, shared_path

# Known divergences: none. (A case listed here would be an explicit expected failure.)
EXPECTED_FAILURES: frozenset[str] = frozenset()


def _request(q: dict[str, Any]) -> AuditRequest:
    return AuditRequest(
        user=q.get("user"),
        groups=tuple(q.get("groups") or ()),
        verb=q["verb"],
        resource_request=bool(q.get("resourceRequest")),
        api_group=q.get("apiGroup", ""),
        resource=q.get("resource", ""),
        subresource=q.get("subresource", ""),
        name=q.get("name", ""),
        namespace=q.get("namespace", ""),
        path=q.get("path", ""),
    )


def _outcome(case: dict[str, Any]) -> tuple[str, frozenset[str], bool]:
    policy = Policy.from_dict(case["policy"], source=case["id"])
    got = policy.evaluate(_request(case["request"]))
    # The uncompiled reference matcher must agree with the compiled hot path.
    first = next(iter(policy.matching_rules(_request(case["request"]))), None)
    assert first == got.rule_index, f"{case['id']}: compiled and reference matchers disagree"
    return got.level.label, got.omit_stages, got.omit_managed_fields


def test_audit_policy_vectors() -> None:
    doc = yaml.safe_load(shared_path("conformance", "audit-policy", "vectors.yaml").read_text())
    assert doc["format"] == "stockade-audit-vectors/v1"
    cases = doc["cases"]
    failures: list[str] = []
    passed = 0
    for case in cases:
        exp = case["expect"]
        want = (
            exp["level"],
            frozenset(exp.get("omitStages") or ()),
            bool(exp.get("omitManagedFields", False)),
        )
        got = _outcome(case)
        if got == want:
            passed += 1
        elif case["id"] not in EXPECTED_FAILURES:
            failures.append(f"{case['id']}: want {want}, got {got}")
    record_conformance("audit-policy vectors", passed, len(cases))
    assert not failures, "\n".join(failures)
    assert passed == len(cases) - len(EXPECTED_FAILURES & {c["id"] for c in cases})
