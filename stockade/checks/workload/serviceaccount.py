"""Service account identity of workloads.

Every pod runs as a service account. The namespace's ``default`` account is shared by every pod
that does not name one, so any permission granted to it is granted to all of them; and a token
mounted into a pod that never calls the API is a credential waiting to be stolen.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from stockade.checks.registry import ScanContext, declare, register
from stockade.checks.workload.common import doc, effective_namespace, owned_pod_specs
from stockade.model import CheckSpec, Finding, Severity

_SA_DOC = doc("Configure service accounts for pods", "tasks/configure-pod-container/configure-service-account/")

DEFAULT_SA = CheckSpec(
    id="workload.default-service-account",
    title="Workload runs as the namespace's default service account",
    severity=Severity.MEDIUM,
    rationale="The default account is shared by every pod of the namespace that names none: a role "
    "bound to it for one workload is given to all of them, and their identities cannot be told apart "
    "in the audit log.",
    remediation="Create a service account per workload and set `serviceAccountName`.",
    references=(_SA_DOC, doc("RBAC good practices", "concepts/security/rbac-good-practices/")),
)
AUTOMOUNT = declare(
    CheckSpec(
        id="workload.sa-token-automount",
        title="Service account token mounted where the workload has no API permissions",
        severity=Severity.LOW,
        rationale="A mounted token lets anyone who compromises the container talk to the API server as "
        "the workload; when no role is bound to the account, the workload does not need it.",
        remediation="Set `automountServiceAccountToken: false` on the pod spec (or on the service account).",
        references=(_SA_DOC, doc("Service account tokens", "concepts/security/service-accounts/")),
    )
)


def _bound_accounts(ctx: ScanContext) -> set[tuple[str, str]] | None:
    """(namespace, name) of service accounts named by a binding; None when the inputs hold no RBAC."""
    bindings = ctx.inventory.kinds("RoleBinding", "ClusterRoleBinding")
    if not bindings:
        return None
    out: set[tuple[str, str]] = set()
    for b in bindings:
        subjects = b.body.get("subjects")
        for s in subjects if isinstance(subjects, list) else ():
            if isinstance(s, Mapping) and s.get("kind") == "ServiceAccount":
                ns = s.get("namespace") or (b.namespace if b.kind == "RoleBinding" else None)
                if ns and s.get("name"):
                    out.add((str(ns), str(s["name"])))
    return out


@register(DEFAULT_SA)
def check(ctx: ScanContext) -> Iterator[Finding]:
    bound = _bound_accounts(ctx)
    for ps in owned_pod_specs(ctx):
        ns = effective_namespace(ps)
        sa = ps.spec.get("serviceAccountName") or ps.spec.get("serviceAccount") or "default"
        if sa == "default":
            field = "serviceAccountName" if "serviceAccountName" in ps.spec else ""
            yield ctx.finding(
                DEFAULT_SA, ps.obj, ps.field_path(field), "runs as the default service account",
                f"{ps.role + ': ' if ps.role else ''}no serviceAccountName, pods run as {ns}/default",
            )  # fmt: skip
        pod_setting = ps.spec.get("automountServiceAccountToken")
        if pod_setting is False:
            continue
        if pod_setting is None:
            sa_obj = ctx.inventory.get("ServiceAccount", sa, ns) or (
                ctx.inventory.get("ServiceAccount", sa) if ns == "default" else None
            )
            if sa_obj is not None and sa_obj.body.get("automountServiceAccountToken") is False:
                continue
        if bound is not None and (ns, sa) in bound:
            continue  # the workload holds API permissions, so it needs its token
        why = "no role is bound to it" if bound is not None else "no RBAC in the inputs shows it is needed"
        yield ctx.finding(
            AUTOMOUNT, ps.obj, ps.field_path("automountServiceAccountToken" if pod_setting else ""),
            "service account token automounted without need",
            f"token of {ns}/{sa} is mounted but {why}",
        )  # fmt: skip
