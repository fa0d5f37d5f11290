"""Pods labelled as holding sensitive data, with a path out.

A pod is sensitive when it carries one of ``netpol.sensitive_labels`` (``key=value`` or ``key``).
Its egress (all tiers) is tested towards addresses outside the cluster (public probes and the
edges of every ipBlock of its egress policies) and towards an unlabelled pod in every other
namespace, on every port and protocol (through the port ranges on which the verdict is constant).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from stockade.engines.netpol import Analyzer, Endpoint

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
    """Sensitive pods with egress outside the cluster or to every namespace."""
    from stockade.engines.netpol import Endpoint, Pod

    world, analyzer = engine(ctx)
    st = settings(ctx)
    cluster = cluster_ips(world)
    for pod in governed_pods(world, analyzer, st.ignore_namespaces):
        if not st.is_sensitive(pod.labels):
            continue
        where = pod_source(world, pod)
        if where is None:
            continue
        obj, path = where
        src = Endpoint("pod", pod=pod)
        policies = analyzer.selecting(pod, "egress")
        outside = ""
        for ip in external_candidates(cluster, policies, world.tier_policies):
            outside = _open_egress(analyzer, src, Endpoint("ip", ip=ip))
            if outside:
                break
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
        if others and all(_open_egress(analyzer, src, o) for o in others):
            yield ctx.finding(
                ALL_NAMESPACES,
                obj,
                path,
                "sensitive pod can reach every namespace",
                f"{pod.key}: egress to pods in all {len(others)} other namespaces",
            )


def _open_egress(analyzer: Analyzer, src: Endpoint, dst: Endpoint) -> str:
    """The first protocol/port range the source's egress allows towards ``dst`` ("" if none).

    Only the source's side is evaluated: an exfiltration path exists as soon as the sender may
    send; the receiver is the attacker's, or a probe standing for any pod of a namespace.
    """
    for proto in ("TCP", "UDP", "SCTP"):
        for lo, hi in analyzer.port_atoms(src, dst, proto):
            if not analyzer.direction(src, dst, "egress", proto, lo).denies:
                span = str(lo) if lo == hi else f"{lo}-{hi}"
                return f"{dst} {proto}/{span}"
    return ""
