"""Shared plumbing for audit policy checks: find Policy objects and parse them once per scan."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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
    prefix: str = ""
    """Field path of the policy inside ``obj``: ``""`` for a Policy object, ``data["key"]`` for a
    policy file kept in a ConfigMap."""

    def at(self, path: str) -> str:
        """The field path of ``path`` (relative to the policy) inside the object."""
        if not self.prefix:
            return path
        return f"{self.prefix}.{path}" if path else self.prefix


def is_audit_policy(obj: K8sObject) -> bool:
    """An ``audit.k8s.io`` Policy object (any served version)."""
    return obj.kind == "Policy" and obj.ref.api_version.startswith("audit.k8s.io/")


def policies(ctx: ScanContext) -> list[FoundPolicy]:
    """Every audit Policy of the scan, parsed once (memoised in ``ctx.cache``)."""
    cached = ctx.cache.get("audit_policy.policies")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    found: list[FoundPolicy] = []
    if not ctx.inventory.kinds("Policy") and not ctx.inventory.kinds("ConfigMap"):
        ctx.cache["audit_policy.policies"] = found
        return found  # nothing to parse: spare the engine import
    from stockade.engines.audit.policy import Policy
    from stockade.errors import InputError

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
    for obj in ctx.inventory.kinds("ConfigMap"):
        data = obj.body.get("data")
        for key, text in sorted(data.items()) if isinstance(data, Mapping) else ():
            body = _embedded_policy(text)
            if body is None:
                continue
            prefix = f'data["{key}"]'
            source = f"{obj.location} ({obj.ref} {prefix})"
            try:
                found.append(FoundPolicy(obj, Policy.from_dict(body, source=source), prefix=prefix))
            except InputError as e:
                found.append(FoundPolicy(obj, None, e.reason, prefix=prefix))
    ctx.cache["audit_policy.policies"] = found
    return found


def valid_policies(ctx: ScanContext) -> Iterator[tuple[FoundPolicy, Policy]]:
    """The policies that parsed."""
    for fp in policies(ctx):
        if fp.policy is not None:
            yield fp, fp.policy


def _embedded_policy(text: Any) -> Mapping[str, Any] | None:
    """The audit Policy in a ConfigMap value (a policy file mounted into the API server), if any."""
    if not isinstance(text, str) or "audit.k8s.io/" not in text or "Policy" not in text:
        return None
    import yaml

    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError:
        return None
    for doc in docs:
        if (
            isinstance(doc, Mapping)
            and doc.get("kind") == "Policy"
            and str(doc.get("apiVersion", "")).startswith("audit.k8s.io/")
        ):
            return doc
    return None
