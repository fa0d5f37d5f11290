"""Bindings that are wrong in themselves: cluster-admin handed out, crowds granted permissions,
references to roles or service accounts that do not exist.

Only bindings of the inputs are checked; the default cluster policy is context (it binds, for
example, ``system:basic-user`` to ``system:authenticated`` on every cluster).
"""

from __future__ import annotations

from collections.abc import Iterator

from stockade.checks.rbac.common import (
    BROAD_GROUPS,
    RBAC_DOC,
    authorizer,
    bump,
    doc,
    has_bindings,
    reportable_bindings,
    settings,
    with_severity,
)
from stockade.checks.rbac.permissions import binding_capabilities
from stockade.checks.registry import ScanContext, declare, register
from stockade.engines.rbac import Binding, Subject
from stockade.model import CheckSpec, Finding, Reference, Severity

CLUSTER_ADMIN = CheckSpec(
    id="rbac.cluster-admin-binding",
    title="cluster-admin bound to a subject that is not a break-glass group",
    severity=Severity.CRITICAL,
    rationale="cluster-admin is every permission on every object; held by a person's day-to-day account "
    "or a workload's service account, one stolen credential is the whole platform.",
    remediation="Bind cluster-admin only to the break-glass group (`rbac.break_glass_groups` in "
    "stockade.yaml) and give everyone else a scoped role.",
    references=(doc("Least privilege", "least-privilege"), RBAC_DOC),
)
BROAD = declare(
    CheckSpec(
        id="rbac.broad-subject",
        title="Permissions granted to everyone, every service account or a default service account",
        severity=Severity.HIGH,
        rationale="system:unauthenticated is anyone who reaches the API server, system:authenticated is "
        "every user and workload (on managed clusters, possibly any account of the identity provider), "
        "and a namespace's `default` service account runs every pod that names none.",
        remediation="Bind roles to named users, groups and dedicated service accounts; give workloads "
        "their own service account instead of granting `default`.",
        references=(
            doc("Hardening", "hardening"),
            Reference(
                "Default service accounts",
                "https://kubernetes.io/docs/concepts/security/service-accounts/#default-service-accounts",
            ),
        ),
    )
)
MISSING_ROLE = declare(
    CheckSpec(
        id="rbac.binding-missing-role",
        title="Binding references a role that does not exist",
        severity=Severity.MEDIUM,
        rationale="The binding grants nothing today, but whoever later creates a role of that name "
        "(possibly with far more rules) grants it to these subjects at once.",
        remediation="Create the intended role with the binding, or delete the binding.",
        references=(RBAC_DOC, doc("Periodic review", "periodic-review")),
    )
)
MISSING_SUBJECT = declare(
    CheckSpec(
        id="rbac.binding-missing-subject",
        title="Binding names a service account that does not exist in the inputs",
        severity=Severity.LOW,
        rationale="A binding to a service account that is not defined grants its permissions to "
        "whoever creates a service account of that name later.",
        remediation="Define the service account next to the binding, or remove the subject.",
        references=(doc("Periodic review", "periodic-review"),),
    )
)

# Namespaces whose service accounts the cluster creates itself.
_SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")


def _broad_reason(s: Subject, binding_ns: str) -> tuple[str, Severity] | None:
    if s.kind == "Group" and s.name in BROAD_GROUPS:
        sev = Severity.CRITICAL if s.name == "system:unauthenticated" else Severity.HIGH
        return BROAD_GROUPS[s.name], sev
    if s.kind == "Group" and s.name.startswith("system:serviceaccounts:"):
        return f"every service account of namespace {s.name.split(':', 2)[2]}", Severity.MEDIUM
    if s.kind == "User" and s.name == "system:anonymous":
        return "every anonymous request", Severity.CRITICAL
    if s.kind == "ServiceAccount" and s.name == "default" and s.can_match(binding_ns):
        return (
            f"every pod of namespace {s.effective_namespace(binding_ns)} that names no service account",
            Severity.MEDIUM,
        )
    return None


@register(CLUSTER_ADMIN)
def check(ctx: ScanContext) -> Iterator[Finding]:
    """cluster-admin, crowds, dangling role references and missing service accounts."""
    if not has_bindings(ctx):
        return
    authz = authorizer(ctx)
    break_glass = set(settings(ctx).break_glass_groups)
    service_accounts = {(o.namespace or "default", o.name) for o in ctx.inventory.kinds("ServiceAccount")}
    for b in reportable_bindings(authz):
        yield from _cluster_admin(ctx, b, break_glass)
        role = authz.resolve(b)
        if role is None:
            where = f" in namespace {b.namespace}" if b.role_ref.kind == "Role" else ""
            yield ctx.finding(
                MISSING_ROLE,
                b.source,
                "roleRef.name",
                "binding references a missing role",
                detail=f"{b} references {b.role_ref.kind} {b.role_ref.name!r}{where}, which is neither in "
                f"the inputs nor a default cluster role",
            )
        elif role.rules:
            held = binding_capabilities(ctx, authz, b)
            for i, s in enumerate(b.subjects):
                found = _broad_reason(s, b.namespace)
                if found is None:
                    continue
                who, sev = found
                if held:
                    sev = bump(sev)
                risky = f"; includes: {', '.join(h.capability.what for h in held)}" if held else ""
                f = ctx.finding(
                    BROAD,
                    b.source,
                    f"subjects[{i}]",
                    "binding grants permissions to a broad subject",
                    detail=f"{b} grants {role} ({len(role.rules)} rules) to {s.display(b.namespace)}: {who}{risky}",
                    evidence=(("subject", s.display(b.namespace)), ("role", str(role))),
                )
                yield with_severity(ctx, f, BROAD, sev)
        for i, s in enumerate(b.subjects):
            if s.kind != "ServiceAccount" or s.name == "default":
                continue
            ns = s.effective_namespace(b.namespace)
            if not ns or ns in _SYSTEM_NAMESPACES or (ns, s.name) in service_accounts:
                continue
            yield ctx.finding(
                MISSING_SUBJECT,
                b.source,
                f"subjects[{i}]",
                "binding names a service account missing from the inputs",
                detail=f"{b} binds ServiceAccount {ns}/{s.name}, which is not defined in the inputs",
            )


def _cluster_admin(ctx: ScanContext, b: Binding, break_glass: set[str]) -> Iterator[Finding]:
    if b.role_ref.kind != "ClusterRole" or b.role_ref.name != "cluster-admin":
        return
    for i, s in enumerate(b.subjects):
        if (s.kind == "Group" and s.name in break_glass) or not s.can_match(b.namespace):
            continue
        cluster = b.kind == "ClusterRoleBinding"
        scope = "every namespace and cluster-scoped object" if cluster else f"namespace {b.namespace}"
        f = ctx.finding(
            CLUSTER_ADMIN,
            b.source,
            f"subjects[{i}]",
            "cluster-admin bound to a subject that is not a break-glass group",
            detail=f"{b} gives {s.display(b.namespace)} cluster-admin over {scope}",
            evidence=(("subject", s.display(b.namespace)), ("breakGlassGroups", sorted(break_glass))),
        )
        # Through a RoleBinding cluster-admin is "only" full control of one namespace.
        yield with_severity(ctx, f, CLUSTER_ADMIN, Severity.CRITICAL if cluster else Severity.HIGH)
