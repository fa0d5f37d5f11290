"""CPU and memory requests and limits.

On shared ML nodes a container without a memory limit can take the node's memory and get other
teams' pods OOM-killed; without requests the scheduler overcommits the node. A ``LimitRange``
in the namespace that sets defaults counts: the API server fills them in at admission.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from stockade.checks.registry import ScanContext, declare, register
from stockade.checks.workload.common import doc, effective_namespace, owned_pod_specs
from stockade.model import CheckSpec, Finding, Severity

_DOC = doc("Resource management for pods and containers", "concepts/configuration/manage-resources-containers/")
_LR_DOC = doc("Limit ranges", "concepts/policy/limit-range/")


def _spec(kind: str, resource: str, severity: Severity, why: str) -> CheckSpec:
    return CheckSpec(
        id=f"workload.{resource}-{kind}-missing",
        title=f"Container has no {resource} {kind[:-1]}",
        severity=severity,
        rationale=why,
        remediation=f"Set `resources.{kind}.{resource}` on every container, or a LimitRange default in the namespace.",
        references=(_DOC, _LR_DOC),
    )


MEMORY_LIMITS = _spec(
    "limits", "memory", Severity.MEDIUM,
    "Without a memory limit one container can exhaust the node and get other tenants' pods OOM-killed.",
)  # fmt: skip
MEMORY_REQUESTS = declare(
    _spec("requests", "memory", Severity.LOW, "Without a memory request the scheduler overcommits the node.")
)
CPU_REQUESTS = declare(
    _spec("requests", "cpu", Severity.LOW, "Without a CPU request the pod gets no guaranteed CPU share.")
)
CPU_LIMITS = declare(
    _spec("limits", "cpu", Severity.LOW, "Without a CPU limit a busy container can starve its neighbours.")
)
_SPECS = {
    ("limits", "memory"): MEMORY_LIMITS,
    ("requests", "memory"): MEMORY_REQUESTS,
    ("requests", "cpu"): CPU_REQUESTS,
    ("limits", "cpu"): CPU_LIMITS,
}


def _limit_range_defaults(ctx: ScanContext) -> dict[str, set[tuple[str, str]]]:
    """namespace -> {(kind, resource)} that a LimitRange defaults for containers."""
    key = "workload.limitrange-defaults"
    if key not in ctx.cache:
        out: dict[str, set[tuple[str, str]]] = {}
        for lr in ctx.inventory.kinds("LimitRange"):
            limits = lr.spec.get("limits")
            for item in limits if isinstance(limits, list) else ():
                if not isinstance(item, Mapping) or item.get("type", "Container") != "Container":
                    continue
                got = out.setdefault(lr.namespace or "default", set())
                for field, kinds in (("default", ("limits", "requests")), ("defaultRequest", ("requests",))):
                    values = item.get(field)
                    if isinstance(values, Mapping):
                        got.update((k, str(r)) for r in values for k in kinds)
        ctx.cache[key] = out
    result: dict[str, set[tuple[str, str]]] = ctx.cache[key]
    return result


def _has(resources: Mapping[str, Any], kind: str, resource: str) -> bool:
    values = resources.get(kind)
    return isinstance(values, Mapping) and values.get(resource) not in (None, "")


@register(MEMORY_LIMITS)
def check(ctx: ScanContext) -> Iterator[Finding]:
    defaults = _limit_range_defaults(ctx)
    for ps in owned_pod_specs(ctx):
        ns_defaults = defaults.get(effective_namespace(ps), set())
        for rel, container in ps.containers():
            if rel.startswith("ephemeralContainers"):
                continue  # ephemeral containers cannot have resources
            res = container.get("resources")
            res = res if isinstance(res, Mapping) else {}
            name = container.get("name", rel)
            for (kind, resource), spec in _SPECS.items():
                if _has(res, kind, resource) or (kind, resource) in ns_defaults:
                    continue
                # A limit alone also sets the request (the API server copies it).
                if kind == "requests" and _has(res, "limits", resource):
                    continue
                yield ctx.finding(
                    spec, ps.obj, ps.field_path(f"{rel}.resources"), f"no {resource} {kind[:-1]}",
                    f"container {name} sets no resources.{kind}.{resource}",
                )  # fmt: skip
