"""Shared plumbing for audit policy checks: find Policy objects and parse them once per scan."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stockade.model import Reference

if TYPE_CHECKING:
    from stockade.checks.registry import ScanContext
    from stockade.engines.audit.policy import Policy
    from stockade.loading.objects import K8sObject

AUDITING_DOC = Reference("Kubernetes: Auditing", "https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/")
POLICY_API_DOC = Reference(
    "Kubernetes: Audit configuration (v1) Policy",
    "https://kubernetes.io/docs/reference/config-api/apiserver-audit.v1/",
)
SECURITY_CHECKLIST = Reference(
    "Kubernetes: Security checklist", "https://kubernetes.io/docs/concepts/security/security-checklist/"
)


@dataclass(frozen=True, slots=True)
class FoundPolicy:
    """An audit Policy in the inputs, parsed, or the reason it could not be."""

    obj: K8sObject
    policy: Policy | None
    error: str = ""


def is_audit_policy(obj: K8sObject) -> bool:
    """An ``audit.k8s.io`` Policy object (any served version)."""
    return obj.kind == "Policy" and obj.ref.api_version.startswith("audit.k8s.io/")


def policies(ctx: ScanContext) -> list[FoundPolicy]:
    """Every audit Policy of the scan, parsed once (memoised in ``ctx.cache``)."""
    cached = ctx.cache.get("audit_policy.policies")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    from stockade.engines.audit.policy import Policy
    from stockade.errors import InputError

    found: list[FoundPolicy] = []
    for obj in ctx.inventory.kinds("Policy"):
        if not is_audit_policy(obj):
            continue
        source = str(obj.location)
        rules = obj.body.get("rules")
        lines = [obj.line_of(f"rules[{i}]") for i in range(len(rules))] if isinstance(rules, list) else []
        try:
            found.append(FoundPolicy(obj, Policy.from_dict(obj.body, source=source, lines=lines)))
        except InputError as e:
            found.append(FoundPolicy(obj, None, e.reason))
    ctx.cache["audit_policy.policies"] = found
    return found


def valid_policies(ctx: ScanContext) -> Iterator[tuple[K8sObject, Policy]]:
    """The policies that parsed."""
    for fp in policies(ctx):
        if fp.policy is not None:
            yield fp.obj, fp.policy
