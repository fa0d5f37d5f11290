"""GPU requests: limits, and which namespaces may use the platform's GPUs.

GPUs are the scarcest resource of an ML platform. Kubernetes only schedules extended resources
such as ``nvidia.com/gpu`` from limits (requests must equal them), and GPU quota is usually
granted to a few namespaces; a GPU pod elsewhere either fails or consumes another team's share.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from stockade.checks.registry import ScanContext, declare, register
from stockade.checks.workload.common import doc, effective_namespace, owned_pod_specs
from stockade.model import CheckSpec, Finding, Severity

_GPU_DOC = doc("Schedule GPUs", "tasks/manage-gpus/scheduling-gpus/")

LIMIT = CheckSpec(
    id="workload.gpu-limit-missing",
    title="GPU requested without a matching limit",
    severity=Severity.HIGH,
    rationale="Extended resources are scheduled from limits; a GPU request without an equal limit is "
    "rejected by the API server or, in a custom resource, produces pods that never schedule.",
    remediation="Set the GPU under `resources.limits` (a request, if given, must equal the limit).",
    references=(
        _GPU_DOC,
        doc("Extended resources", "concepts/configuration/manage-resources-containers/#extended-resources"),
    ),
)
NAMESPACE = declare(
    CheckSpec(
        id="workload.gpu-namespace-not-allowed",
        title="GPU requested outside the namespaces allowed to use GPUs",
        severity=Severity.HIGH,
        rationale="GPU capacity is allotted per team; a GPU workload in another namespace takes capacity "
        "(and GPU nodes, often less isolated) that was not granted to it.",
        remediation="Run GPU workloads only in the GPU namespaces (`gpu.namespaces` in stockade.yaml), or "
        "add the namespace there with a ResourceQuota on its GPUs.",
        references=(_GPU_DOC, doc("Resource quotas", "concepts/policy/resource-quotas/")),
    )
)


def _quantity(res: Mapping[str, Any], kind: str, name: str) -> Any:
    values = res.get(kind)
    return values.get(name) if isinstance(values, Mapping) else None


def _is_zero(value: Any) -> bool:
    return str(value).strip() in ("0", "0.0", "")


@register(LIMIT)
def check(ctx: ScanContext) -> Iterator[Finding]:
    gpu_names = ctx.config.gpu_resources
    allowed = ctx.config.gpu_namespaces
    for ps in owned_pod_specs(ctx):
        ns = effective_namespace(ps)
        for rel, container in ps.containers():
            res = container.get("resources")
            if not isinstance(res, Mapping):
                continue
            cname = container.get("name", rel)
            for gpu in gpu_names:
                req, lim = _quantity(res, "requests", gpu), _quantity(res, "limits", gpu)
                if req is None and lim is None:
                    continue
                path = ps.field_path(f"{rel}.resources")
                if lim is None and not _is_zero(req):
                    yield ctx.finding(
                        LIMIT,
                        ps.obj,
                        path,
                        "GPU request without limit",
                        f"container {cname}: requests {gpu}={req}, no limit",
                    )
                elif req is not None and lim is not None and str(req) != str(lim):
                    yield ctx.finding(
                        LIMIT,
                        ps.obj,
                        path,
                        "GPU request differs from limit",
                        f"container {cname}: {gpu} request {req} != limit {lim}",
                    )
                wanted = lim if lim is not None else req
                if allowed is not None and ns not in allowed and not _is_zero(wanted):
                    where = f"in namespace {ns} (allowed: {', '.join(allowed) or 'none'})"
                    yield ctx.finding(
                        NAMESPACE, ps.obj, path, "GPU used outside the GPU namespaces",
                        f"container {cname} wants {gpu}={wanted} {where}",
                    )  # fmt: skip
