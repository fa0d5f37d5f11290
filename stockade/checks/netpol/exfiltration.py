"""Pods labelled as holding sensitive data, with a path out.

A pod is sensitive when it carries one of ``netpol.sensitive_labels`` (``key=value`` or ``key``).
Its egress (all tiers) is tested towards addresses outside the cluster (public probes and the
edges of every ipBlock of its egress policies) and towards an unlabelled pod in every other
namespace, on the ports its egress rules name plus 443/TCP and 53/UDP.
"""

from __future__ import annotations

from collections.abc import Iterator

from stockade.checks.netpol.common import (
    ANP_DOC,
    NP_DOC,
    cluster_ips,
    engine,
    external_candidates,
    governed_pods,
    pod_source,
    settings,
)
from stockade.checks.registry import ScanContext, declare, register
from stockade.model import CheckSpec, Finding, Severity

EXTERNAL = CheckSpec(
    id="netpol.sensitive-egress-external",
    title="Pod holding sensitive data can send traffic outside the cluster",
    severity=Severity.HIGH,
    rationale="Training data, features and model weights leave through egress: a sensitive pod that can "
    "open connections to the internet (even only on 443 or to any DNS resolver) gives an attacker or a "
    "careless dependency an exfiltration path.",
    remediation="Select the pod with an egress policy that allows only in-cluster destinations and the "
    "specific external endpoints it needs (ipBlock of those addresses), plus DNS to kube-dns.",
    references=(NP_DOC, ANP_DOC),
)
ALL_NAMESPACES = declare(
    CheckSpec(
        id="netpol.sensitive-egress-all-namespaces",
        title="Pod holding sensitive data can reach every namespace",
        severity=Severity.MEDIUM,
        rationale="Egress to every namespace lets a compromised sensitive pod push data to any tenant's "
        "workloads, including ones that have internet access.",
        remediation="Limit the pod's egress to the namespaces and pods it needs (namespaceSelector plus "
        "podSelector in one peer).",
        references=(NP_DOC,),
    )
)


@register(EXTERNAL)
def check(ctx: ScanContext) -> Iterator[Finding]:
    from stockade.engines.netpol import Endpoint, Pod

    world, analyzer = engine(ctx)
    st = settings(ctx)
    cluster = cluster_ips(world)
    for pod in governed_pods(world, analyzer, st.ignore_namespaces):
        if not st.is_sensitive(pod.labels):
            continue
        src = Endpoint("pod", pod=pod)
        policies = analyzer.selecting(pod, "egress")
        ports: list[tuple[int, str]] = [(443, "TCP"), (53, "UDP")]
        for pol in policies:
            for rule in pol.egress or ():
                for pm in rule.ports or ():
                    if pm.start is not None and (pm.start, pm.protocol) not in ports:
                        ports.append((pm.start, pm.protocol))
        where = pod_source(world, pod)
        if where is None:
            continue
        obj, path = where
        outside = _first_open(
            analyzer, src, [Endpoint("ip", ip=ip) for ip in external_candidates(cluster, policies)], ports
        )
        if outside:
            yield ctx.finding(
                EXTERNAL,
                obj,
                path,
                "sensitive pod can send traffic outside the cluster",
                f"{pod.key}: egress to {outside}",
                evidence=(("egress", outside),),
            )
        others = [Endpoint("pod", pod=Pod(ns, "*", {})) for ns in world.namespaces if ns != pod.namespace]
        if others and all(_first_open(analyzer, src, [o], ports) for o in others):
            yield ctx.finding(
                ALL_NAMESPACES,
                obj,
                path,
                "sensitive pod can reach every namespace",
                f"{pod.key}: egress to pods in all {len(others)} other namespaces",
            )


def _first_open(analyzer: object, src: object, targets: list[object], ports: list[tuple[int, str]]) -> str:
    for dst in targets:
        for port, proto in ports:
            res = analyzer.direction(src, dst, "egress", proto, port)  # type: ignore[attr-defined]
            if not res.denies:
                return f"{dst} {proto}/{port}"
    return ""
