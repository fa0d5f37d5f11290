"""Egress rules that forget DNS.

A pod isolated for egress resolves names only if some rule allows UDP 53 to the cluster DNS pods
(``k8s-app: kube-dns``); resolvers fall back to TCP 53 for large answers, so both are needed. The
DNS pods of the inputs are used when present, else the conventional kube-system/kube-dns.
"""

from __future__ import annotations

from collections.abc import Iterator

from stockade.checks.netpol.common import NP_DOC, engine, governed_pods, pod_source, settings
from stockade.checks.registry import ScanContext, register
from stockade.model import CheckSpec, Finding, Severity

SPEC = CheckSpec(
    id="netpol.egress-blocks-dns",
    title="Egress policy blocks DNS to the cluster DNS service",
    severity=Severity.LOW,
    rationale="A default-deny egress policy also blocks name resolution; workloads then fail in ways that "
    "push teams to replace the policy with allow-all egress. Allowing only UDP 53 breaks the TCP fallback "
    "for large answers.",
    remediation="Add an egress rule to the kube-dns pods (namespaceSelector kube-system AND podSelector "
    "k8s-app: kube-dns in one peer) on port 53 for both UDP and TCP.",
    references=(NP_DOC,),
)


@register(SPEC)
def check(ctx: ScanContext) -> Iterator[Finding]:
    """Egress-isolated pods that cannot resolve names through the cluster DNS."""
    from stockade.engines.netpol import ContainerPort, Endpoint, Pod

    world, analyzer = engine(ctx)
    st = settings(ctx)
    dns = [p for p in world.pods.values() if p.labels.get("k8s-app") == "kube-dns"]
    if not dns:
        dns = [
            Pod(
                "kube-system",
                "kube-dns",
                {"k8s-app": "kube-dns"},
                ports=(ContainerPort("dns", 53, "UDP"), ContainerPort("dns-tcp", 53, "TCP")),
            )
        ]
    targets = [Endpoint("pod", pod=p) for p in dns]
    for pod in governed_pods(world, analyzer, st.ignore_namespaces):
        if pod in dns:
            continue
        src = Endpoint("pod", pod=pod)
        blocked = [
            proto
            for proto in ("UDP", "TCP")
            if all(analyzer.direction(src, t, "egress", proto, 53).denies for t in targets)
        ]
        if not blocked:
            continue
        where = pod_source(world, pod)
        if where is None:
            continue
        obj, path = where
        message = "egress blocks DNS" if "UDP" in blocked else "egress blocks DNS over TCP"
        yield ctx.finding(
            SPEC,
            obj,
            path,
            message,
            f"{pod.key}: no egress rule allows {' and '.join(f'{p}/53' for p in blocked)} "
            f"to {dns[0].namespace}/{dns[0].name}",
        )
