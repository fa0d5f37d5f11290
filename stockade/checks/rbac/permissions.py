"""Risky permissions held through the bindings of the inputs.

Each finding sits on the binding that hands the permission out (``roleRef``), names the subjects
that hold it, the role and the rule, and is ranked by blast radius: through a ClusterRoleBinding
the permission holds in every namespace (or cluster-wide); through a RoleBinding only in its
namespace. A rule restricted by ``resourceNames`` is considered narrow and is not reported, unless
the names are as good as everything: impersonating the group ``system:masters``, or binding or
escalating the ``cluster-admin``/``admin`` ClusterRoles.
RoleBindings never grant cluster-scoped resources, so those capabilities only count for
ClusterRoleBindings. Bindings of the default cluster policy are context, never findings, and
bindings whose subjects are all break-glass groups are left to ``rbac.cluster-admin-binding``.

A role holding ``*`` on every resource of every group is reported once, as a wildcard, rather
than once for each capability it implies.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stockade.checks.rbac.common import (
    GOOD_PRACTICES,
    RBAC_DOC,
    authorizer,
    bump,
    doc,
    has_bindings,
    is_broad,
    reportable_bindings,
    settings,
    subjects_text,
    with_severity,
)
from stockade.checks.registry import ScanContext, declare, register
from stockade.engines.rbac.matching import rule_allows
from stockade.engines.rbac.model import Attributes, Binding, Grant, PolicyRule, Role

if TYPE_CHECKING:
    from stockade.engines.rbac.authorizer import Authorizer
from stockade.model import CheckSpec, Finding, Severity

WORKLOAD_RESOURCES: tuple[tuple[str, str], ...] = (
    ("", "pods"),
    ("", "replicationcontrollers"),
    ("apps", "deployments"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("apps", "replicasets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
    # ML workloads start pods with any service account of their namespace, too.
    ("ray.io", "rayclusters"),
    ("ray.io", "rayjobs"),
    ("ray.io", "rayservices"),
    ("kubeflow.org", "pytorchjobs"),
    ("kubeflow.org", "tfjobs"),
    ("kubeflow.org", "mpijobs"),
    ("kubeflow.org", "xgboostjobs"),
    ("kubeflow.org", "notebooks"),
    ("trainer.kubeflow.org", "trainjobs"),
    ("serving.kserve.io", "inferenceservices"),
    ("argoproj.io", "workflows"),
    ("jobset.x-k8s.io", "jobsets"),
    ("leaderworkerset.x-k8s.io", "leaderworkersets"),
)

WILDCARD = CheckSpec(
    id="rbac.wildcard-permission",
    title="Role grants wildcard verbs or resources",
    severity=Severity.HIGH,
    rationale="`*` grants every current and future verb or resource, including subresources such as "
    "pods/exec and resources added later by CRDs; with `*` on every group it is cluster-admin in all "
    "but name.",
    remediation="List the verbs and resources the subject needs (see `stockade rbac suggest`).",
    references=(doc("Least privilege", "least-privilege"), RBAC_DOC),
)
ESCALATE = declare(
    CheckSpec(
        id="rbac.escalate-or-bind",
        title="Subject may escalate or bind roles",
        severity=Severity.HIGH,
        rationale="`escalate` lets a subject write roles with permissions it does not hold and `bind` lets "
        "it bind roles it does not hold: both bypass RBAC's escalation prevention.",
        remediation="Remove `escalate` and `bind` (and `*` verbs) on roles and clusterroles; grant `bind` "
        "only on named roles with resourceNames if a delegated administrator needs it.",
        references=(doc("Escalate verb", "escalate-verb"), doc("Bind verb", "bind-verb")),
    )
)
IMPERSONATE = declare(
    CheckSpec(
        id="rbac.impersonate",
        title="Subject may impersonate users, groups or service accounts",
        severity=Severity.HIGH,
        rationale="Impersonation acts with another identity's permissions; cluster-wide it reaches "
        "`system:masters`, in a namespace every service account of that namespace.",
        remediation="Remove the `impersonate` verb, or restrict it with resourceNames to the identities "
        "a tool must act as.",
        references=(doc("Impersonate verb", "impersonate-verb"),),
    )
)
SECRETS = declare(
    CheckSpec(
        id="rbac.secrets-read",
        title="Subject may read Secrets",
        severity=Severity.HIGH,
        rationale="get, list and watch all return Secret values: registry credentials, model-store keys, "
        "service-account tokens. Cluster-wide or across teams, one leaked identity reads everything.",
        remediation="Grant `get` on the named Secrets the workload needs (resourceNames), in its own "
        "namespace only; mount Secrets into pods instead of reading them through the API.",
        references=(doc("Listing secrets", "listing-secrets"),),
    )
)
EXEC = declare(
    CheckSpec(
        id="rbac.pod-exec",
        title="Subject may exec, attach or port-forward into pods",
        severity=Severity.MEDIUM,
        rationale="A shell in a serving or training pod reads its mounted secrets, model weights and "
        "data, and acts with its service account.",
        remediation="Drop pods/exec, pods/attach and pods/portforward from standing roles; grant them "
        "per incident, or restrict them with resourceNames.",
        references=(RBAC_DOC, GOOD_PRACTICES),
    )
)
WORKLOADS = declare(
    CheckSpec(
        id="rbac.workload-create",
        title="Subject may create or change pods or workloads",
        severity=Severity.LOW,
        rationale="Whoever creates a pod (directly or through a Deployment, Job or ML workload) can mount "
        "any Secret and run as any service account of that namespace.",
        remediation="Limit workload creation to deployment pipelines and operators; cluster-wide, bind a "
        "namespaced role per team namespace instead.",
        references=(doc("Workload creation", "workload-creation"),),
    )
)
NODES_PROXY = declare(
    CheckSpec(
        id="rbac.nodes-proxy",
        title="Subject may use nodes/proxy",
        severity=Severity.CRITICAL,
        rationale="nodes/proxy reaches the kubelet API, which runs commands in any pod of the node "
        "without audit of the individual pod request.",
        remediation="Remove nodes/proxy; monitoring agents only need nodes/metrics and nodes/stats.",
        references=(doc("Access to proxy subresource of Nodes", "access-to-proxy-subresource-of-nodes"),),
    )
)
TOKENS = declare(
    CheckSpec(
        id="rbac.token-create",
        title="Subject may create service-account tokens",
        severity=Severity.HIGH,
        rationale="Creating serviceaccounts/token mints credentials for any service account in scope, and "
        "thereby holds all of their permissions.",
        remediation="Remove `create` on serviceaccounts/token, or restrict it with resourceNames.",
        references=(doc("Token request", "token-request"),),
    )
)
CSR = declare(
    CheckSpec(
        id="rbac.csr-approval",
        title="Subject may approve or sign certificate signing requests",
        severity=Severity.CRITICAL,
        rationale="Approving or signing CSRs issues client certificates, for example for a node or a "
        "`system:masters` identity.",
        remediation="Leave CSR approval to the controllers and restrict `approve`/`sign` on signers with "
        "resourceNames to the signers a tool owns.",
        references=(doc("Certificate signing requests", "csrs-and-certificate-issuing"),),
    )
)
WEBHOOKS = declare(
    CheckSpec(
        id="rbac.webhook-config",
        title="Subject may change admission webhooks or policies",
        severity=Severity.HIGH,
        rationale="A mutating webhook rewrites every object (pods included) it is sent; changing or "
        "deleting validating webhooks and policies switches off the platform's guardrails.",
        remediation="Only the cluster operators and the webhook's own installer should write webhook "
        "configurations and admission policies.",
        references=(
            doc(
                "Control admission webhooks",
                "control-admission-webhooks",
            ),
        ),
    )
)

_WRITE = ("create", "update", "patch", "delete")


@dataclass(frozen=True, slots=True)
class Capability:
    """A dangerous permission: requests that prove it, and severities by scope."""

    spec: CheckSpec
    what: str
    probes: tuple[Attributes, ...]
    cluster_severity: Severity
    namespace_severity: Severity | None
    """``None``: not grantable through a RoleBinding (cluster-scoped resource)."""
    named_probes: tuple[Attributes, ...] = ()
    """Named requests that stay dangerous when a rule is restricted by ``resourceNames``
    (impersonating ``system:masters``, binding ``cluster-admin``)."""

    @property
    def resource_keys(self) -> frozenset[str]:
        """Rule resource entries that can match a probe (a cheap pre-filter)."""
        keys = {"*"}
        for p in self.probes + self.named_probes:
            keys.add(f"{p.resource}/{p.subresource}" if p.subresource else p.resource)
            if p.subresource:
                keys.add(f"*/{p.subresource}")
        return frozenset(keys)


def _probes(verbs: tuple[str, ...], targets: tuple[tuple[str, str, str], ...]) -> tuple[Attributes, ...]:
    return tuple(Attributes(verb=v, api_group=g, resource=r, subresource=s) for g, r, s in targets for v in verbs)


CAPABILITIES: tuple[Capability, ...] = (
    Capability(
        ESCALATE,
        "escalate or bind roles",
        _probes(
            ("escalate", "bind"),
            (("rbac.authorization.k8s.io", "roles", ""), ("rbac.authorization.k8s.io", "clusterroles", "")),
        ),
        Severity.CRITICAL,
        Severity.HIGH,
        # bind/escalate restricted to the all-powerful default roles is still escalation to them.
        tuple(
            Attributes(verb=v, api_group="rbac.authorization.k8s.io", resource="clusterroles", name=n)
            for n in ("cluster-admin", "admin")
            for v in ("bind", "escalate")
        ),
    ),
    Capability(
        IMPERSONATE,
        "impersonate identities",
        _probes(
            ("impersonate",),
            (
                ("", "users", ""),
                ("", "groups", ""),
                ("", "serviceaccounts", ""),
                ("authentication.k8s.io", "uids", ""),
                ("authentication.k8s.io", "userextras", "scopes"),
            ),
        ),
        Severity.CRITICAL,
        Severity.HIGH,
        # Impersonating the group system:masters is cluster-admin, whatever the name restriction.
        (Attributes(verb="impersonate", resource="groups", name="system:masters"),),
    ),
    Capability(
        SECRETS,
        "read Secrets",
        _probes(("get", "list", "watch"), (("", "secrets", ""),)),
        Severity.CRITICAL,
        Severity.MEDIUM,
    ),
    Capability(
        EXEC,
        "exec, attach or port-forward into pods",
        # GET also opened exec over websockets before 1.31's create-permission check.
        _probes(("create", "get"), (("", "pods", "exec"), ("", "pods", "attach"), ("", "pods", "portforward")))
        # An ephemeral debug container is exec by another name.
        + _probes(("update", "patch"), (("", "pods", "ephemeralcontainers"),)),
        Severity.HIGH,
        Severity.MEDIUM,
    ),
    Capability(
        WORKLOADS,
        "create or change pods and workloads",
        _probes(("create", "update", "patch"), tuple((g, r, "") for g, r in WORKLOAD_RESOURCES)),
        Severity.HIGH,
        Severity.LOW,
    ),
    Capability(
        NODES_PROXY,
        "reach the kubelet API through nodes/proxy",
        _probes(("get", "create", "update", "patch", "delete"), (("", "nodes", "proxy"),)),
        Severity.CRITICAL,
        None,
    ),
    Capability(
        TOKENS,
        "create service-account tokens",
        _probes(("create",), (("", "serviceaccounts", "token"),)),
        Severity.CRITICAL,
        Severity.HIGH,
    ),
    Capability(
        CSR,
        "approve or sign certificate signing requests",
        _probes(
            ("update", "patch"),
            (
                ("certificates.k8s.io", "certificatesigningrequests", "approval"),
                ("certificates.k8s.io", "certificatesigningrequests", "status"),
            ),
        )
        + _probes(("approve", "sign"), (("certificates.k8s.io", "signers", ""),)),
        Severity.CRITICAL,
        None,
    ),
    Capability(
        WEBHOOKS,
        "change admission webhooks or policies",
        _probes(
            _WRITE,
            tuple(
                ("admissionregistration.k8s.io", r, "")
                for r in (
                    "mutatingwebhookconfigurations",
                    "validatingwebhookconfigurations",
                    "validatingadmissionpolicies",
                    "validatingadmissionpolicybindings",
                    "mutatingadmissionpolicies",
                    "mutatingadmissionpolicybindings",
                )
            ),
        ),
        Severity.CRITICAL,
        None,
    ),
)


_CAPABILITY_KEYS = tuple((c, c.resource_keys) for c in CAPABILITIES)


def is_full_wildcard(rule: PolicyRule) -> bool:
    """``*`` verbs on ``*`` resources of ``*`` groups (cluster-admin's resource rule)."""
    return "*" in rule.verbs and "*" in rule.resources and "*" in rule.api_groups and not rule.resource_names


def is_wildcard(rule: PolicyRule) -> bool:
    """``*`` among the verbs or resources of a resource rule."""
    return bool(rule.resources) and ("*" in rule.verbs or "*" in rule.resources)


@dataclass(frozen=True, slots=True)
class Held:
    """A capability a binding hands out, with the rules that grant it."""

    capability: Capability
    grants: tuple[Grant, ...]
    severity: Severity


def capabilities_of(binding: Binding, role: Role) -> list[Held]:
    """The dangerous capabilities a binding hands out (wildcard roles: only the wildcard)."""
    cluster = binding.kind == "ClusterRoleBinding"
    out: list[Held] = []
    # Probes carry no name, so rules restricted by resourceNames (narrow) never match them; only
    # the named probes (names that are as good as everything) are tried on those.
    candidates = [(i, rule) for i, rule in enumerate(role.rules) if rule.resources]
    for cap, keys in _CAPABILITY_KEYS:
        if not cluster and cap.namespace_severity is None:
            continue
        grants = tuple(
            Grant(binding, role, rule, i)
            for i, rule in candidates
            if not keys.isdisjoint(rule.resources)
            and any(rule_allows(rule, p) for p in (cap.named_probes if rule.resource_names else cap.probes))
        )
        if grants:
            sev = cap.cluster_severity if cluster else cap.namespace_severity
            assert sev is not None
            out.append(Held(cap, grants, sev))
    return out


def binding_capabilities(ctx: ScanContext, authz: Authorizer, b: Binding) -> list[Held]:
    """Memoised :func:`capabilities_of` for a binding of the scan."""
    memo: dict[tuple[str, str, str], list[Held]] = ctx.cache.setdefault("rbac.capabilities", {})
    if b.key not in memo:
        role = authz.resolve(b)
        memo[b.key] = capabilities_of(b, role) if role is not None else []
    return memo[b.key]


def _scope(b: Binding, cluster_scoped: bool) -> str:
    if b.kind == "ClusterRoleBinding":
        return "cluster-wide" if cluster_scoped else "in every namespace"
    return f"in namespace {b.namespace}"


def _rules_text(grants: tuple[Grant, ...]) -> str:
    return "; ".join(f"rules[{g.rule_index}]: {g.rule}" for g in grants[:3]) + (
        f"; and {len(grants) - 3} more" if len(grants) > 3 else ""
    )


def _cross_namespace_subjects(b: Binding) -> bool:
    """A RoleBinding subject from elsewhere: another namespace's SA, or a crowd."""
    for s in b.subjects:
        if s.kind == "ServiceAccount" and s.effective_namespace(b.namespace) != b.namespace:
            return True
        if is_broad(s) and s.name != f"system:serviceaccounts:{b.namespace}":
            return True
    return False


@register(WILDCARD)
def check(ctx: ScanContext) -> Iterator[Finding]:
    """Wildcards and dangerous capabilities, one finding per binding and check."""
    if not has_bindings(ctx):
        return
    authz = authorizer(ctx)
    break_glass = set(settings(ctx).break_glass_groups)
    for b in reportable_bindings(authz):
        role = authz.resolve(b)
        # Subjects no identity can match (a ServiceAccount without namespace in a
        # ClusterRoleBinding, an unknown kind) receive nothing.
        live = [s for s in b.subjects if s.can_match(b.namespace)]
        if role is None or not live:
            continue
        if b.role_ref.kind == "ClusterRole" and b.role_ref.name == "cluster-admin":
            continue  # rbac.cluster-admin-binding reports it
        if all(s.kind == "Group" and s.name in break_glass for s in live):
            continue
        who = subjects_text(b, live)
        broad = any(is_broad(s) for s in b.subjects)
        wild = tuple(Grant(b, role, r, i) for i, r in enumerate(role.rules) if is_wildcard(r))
        full = any(is_full_wildcard(g.rule) for g in wild)
        if wild:
            cluster = b.kind == "ClusterRoleBinding"
            sev = (
                (Severity.CRITICAL if cluster else Severity.HIGH)
                if full
                else (Severity.HIGH if cluster else Severity.MEDIUM)
            )
            what = "hold every permission" if full else "use wildcard verbs or resources"
            f = ctx.finding(
                WILDCARD,
                b.source,
                "roleRef",
                "binding grants wildcard permissions",
                detail=f"{who} may {what} {_scope(b, False)} via {b} -> {role} ({_rules_text(wild)})",
                evidence=_evidence(b, role, wild),
            )
            yield with_severity(ctx, f, WILDCARD, bump(sev) if broad else sev)
        if full:
            continue
        for held in binding_capabilities(ctx, authz, b):
            cap = held.capability
            sev = held.severity
            if cap.spec is SECRETS and b.kind == "RoleBinding" and _cross_namespace_subjects(b):
                sev = Severity.HIGH
            gains = ""
            if cap.spec is WORKLOADS and b.kind == "RoleBinding":
                targets = _pod_escalation_targets(ctx, b.namespace)
                if targets is not None and not targets:
                    continue  # nothing in the namespace a pod could borrow: creating pods is the job
                gains = f"; a pod there can use {', '.join(targets)}" if targets else ""
            if broad:
                sev = bump(sev)
            f = ctx.finding(
                cap.spec,
                b.source,
                "roleRef",
                f"binding lets subjects {cap.what}",
                detail=f"{who} may {cap.what} {_scope(b, cap.namespace_severity is None)} via {b} -> {role} "
                f"({_rules_text(held.grants)}){gains}",
                evidence=_evidence(b, role, held.grants),
            )
            yield with_severity(ctx, f, cap.spec, sev)


def _pod_escalation_targets(ctx: ScanContext, namespace: str) -> list[str] | None:
    """What a pod created in ``namespace`` could borrow: its Secrets and the service accounts that
    hold permissions. None when the inputs say nothing about that namespace's contents."""
    memo: dict[str, list[str] | None] = ctx.cache.setdefault("rbac.pod-escalation-targets", {})
    if namespace in memo:
        return memo[namespace]
    inv = ctx.inventory
    rbac_kinds = ("Role", "RoleBinding")
    known = namespace in inv.namespaces() or any(o.namespace == namespace and o.kind not in rbac_kinds for o in inv)
    if not known:
        memo[namespace] = None
        return None
    targets = [f"Secret {o.name}" for o in inv.kinds("Secret") if o.namespace == namespace]
    bound: set[str] = set()
    for b in inv.kinds("RoleBinding", "ClusterRoleBinding"):
        subjects = b.body.get("subjects")
        for subj in subjects if isinstance(subjects, list) else ():
            if isinstance(subj, dict) and subj.get("kind") == "ServiceAccount":
                sa_ns = subj.get("namespace") or (b.namespace if b.kind == "RoleBinding" else None)
                if sa_ns == namespace and subj.get("name"):
                    bound.add(str(subj["name"]))
    targets += [f"ServiceAccount {name}" for name in sorted(bound)]
    memo[namespace] = targets
    return targets


def _evidence(b: Binding, role: Role, grants: tuple[Grant, ...]) -> tuple[tuple[str, object], ...]:
    return (
        ("subjects", [s.display(b.namespace) for s in b.subjects]),
        ("binding", str(b)),
        ("role", str(role)),
        ("rules", [g.rule.to_dict() for g in grants]),
        ("ruleIndexes", [g.rule_index for g in grants]),
    )


__all__ = ["CAPABILITIES", "Capability", "Held", "binding_capabilities", "capabilities_of"]
