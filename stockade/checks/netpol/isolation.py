"""Namespaces without a default-deny NetworkPolicy.

A pod that no NetworkPolicy selects for a direction accepts (or sends) everything in that
direction. A namespace-wide policy (``podSelector: {}``) covering the direction makes deny the
default for every pod, including pods added later; without one, each new workload starts open.
A namespace-wide policy whose rule allows every peer on every port is an explicit allow-all, not a
default deny. The finding is on the Namespace object when the inputs have it (the detail lists the
pods left open), else on each open workload.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from stockade.checks.netpol.common import NP_DOC, engine, governed_pods, pod_source, settings
from stockade.checks.registry import ScanContext, declare, register
from stockade.engines.netpol.policy import Direction
from stockade.model import CheckSpec, Finding, Reference, Severity

_RECIPE = Reference(
    "Kubernetes: default policies",
    "https://kubernetes.io/docs/concepts/services-networking/network-policies/#default-policies",
)

INGRESS = CheckSpec(
    id="netpol.no-default-deny-ingress",
    title="Namespace has no default-deny ingress NetworkPolicy",
    severity=Severity.MEDIUM,
    rationale="Without a namespace-wide ingress policy every pod not selected by some policy accepts "
    "connections from any pod of any tenant and from outside the cluster; on a shared ML platform that "
    "exposes notebooks, model servers and feature stores to every other team.",
    remediation="Add a NetworkPolicy with `podSelector: {}` and `policyTypes: [Ingress]` to the namespace, "
    "then allow the traffic each workload needs.",
    references=(NP_DOC, _RECIPE),
)
EGRESS = declare(
    CheckSpec(
        id="netpol.no-default-deny-egress",
        title="Namespace has no default-deny egress NetworkPolicy",
        severity=Severity.MEDIUM,
        rationale="Without a namespace-wide egress policy a compromised pod can reach every service of "
        "every tenant and any address on the internet, which is the path out for stolen models and data.",
        remediation="Add a NetworkPolicy with `podSelector: {}` and `policyTypes: [Egress]` to the "
        "namespace, "
        "then allow DNS and the destinations each workload needs.",
        references=(NP_DOC, _RECIPE),
    )
)


@register(INGRESS)
def check(ctx: ScanContext) -> Iterator[Finding]:
    """Namespaces (or their workloads) without a default-deny policy per direction."""
    world, analyzer = engine(ctx)
    st = settings(ctx)
    by_ns = defaultdict(list)
    for pod in governed_pods(world, analyzer, st.ignore_namespaces):
        by_ns[pod.namespace].append(pod)
    ns_objects = ctx.inventory.namespaces()
    for ns in sorted(by_ns):
        pods = by_ns[ns]
        for direction, spec in (("ingress", INGRESS), ("egress", EGRESS)):
            d: Direction = "ingress" if direction == "ingress" else "egress"
            wide = [p for p in world.policies_by_ns.get(ns, ()) if p.pod_selector.is_empty and p.rules(d) is not None]
            allow_all = [p.ref for p in wide if any(r.peers is None and r.ports is None for r in p.rules(d) or ())]
            if wide and not allow_all:
                continue
            open_pods = sorted(p.key for p in pods if not analyzer.selecting(p, d))
            if allow_all:
                detail = f"namespace-wide {', '.join(allow_all)} allows all {direction}"
            elif open_pods:
                shown = ", ".join(open_pods[:5]) + (f" and {len(open_pods) - 5} more" if len(open_pods) > 5 else "")
                detail = f"not isolated for {direction}: {shown}"
            else:
                detail = f"every current pod is selected by some policy, but new pods start open for {direction}"
            obj = ns_objects.get(ns)
            message = f"no default-deny {direction} NetworkPolicy in the namespace"
            if obj is not None:
                yield ctx.finding(
                    spec,
                    obj,
                    "metadata",
                    message,
                    f"{ns}: {detail}",
                    evidence=(("namespace", ns), ("open_pods", tuple(open_pods))),
                )
                continue
            # No Namespace object in the inputs: report on each workload left open instead.
            for pod in pods:
                src = pod_source(world, pod)
                if src is None or (not allow_all and pod.key not in open_pods):
                    continue
                why = detail if allow_all else f"not isolated for {direction}"
                yield ctx.finding(spec, src[0], src[1], message, f"{pod.key}: {why}", evidence=(("namespace", ns),))
