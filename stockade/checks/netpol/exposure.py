"""Pods whose serving ports every namespace, or the internet, can reach.

Each container port a pod declares is tested at the pod's ingress boundary (all tiers): from an
unlabelled pod in every other namespace of the inputs, and from addresses outside the cluster
(public probes plus the edges of every ipBlock of the policies that select the pod).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from stockade.checks.netpol.common import (
    ANP_DOC,
    NP_DOC,
    cluster_ips,
    engine,
    external_candidates,
    governed_pods,
    pod_source,
    serving_ports,
    settings,
)
from stockade.checks.registry import ScanContext, declare, register
from stockade.model import CheckSpec, Finding, Severity

if TYPE_CHECKING:
    from stockade.engines.netpol import Analyzer, Endpoint

ALL_NAMESPACES = CheckSpec(
    id="netpol.reachable-from-all-namespaces",
    title="Pod's serving port is reachable from every namespace",
    severity=Severity.MEDIUM,
    rationale="A model server, notebook or database that any pod of any tenant can connect to is one "
    "compromised workload away from model theft or data loss; tenants should reach only the services "
    "published for them.",
    remediation="Restrict the pod's ingress rules to the namespaces and pods that need the port "
    "(namespaceSelector plus podSelector in the same peer).",
    references=(NP_DOC, ANP_DOC),
)
OUTSIDE = declare(
    CheckSpec(
        id="netpol.reachable-from-outside",
        title="Pod's serving port is reachable from outside the cluster",
        severity=Severity.HIGH,
        rationale="Ingress that admits external addresses (an empty `from`, or an ipBlock such as "
        "0.0.0.0/0) lets anyone who can route to the pod IP reach the service directly, bypassing the "
        "gateway's authentication.",
        remediation="Remove the empty or internet-wide peers from the pod's ingress rules and admit external "
        "traffic only through the ingress gateway's pods.",
        references=(NP_DOC,),
    )
)


@register(ALL_NAMESPACES)
def check(ctx: ScanContext) -> Iterator[Finding]:
    """Serving ports reachable from every namespace or from outside the cluster."""
    from stockade.engines.netpol import Endpoint, Pod

    world, analyzer = engine(ctx)
    st = settings(ctx)
    cluster = cluster_ips(world)
    memo: dict[tuple[object, ...], tuple[list[str], list[str]]] = {}
    for pod in governed_pods(world, analyzer, st.ignore_namespaces):
        ports = serving_ports(pod)
        if not ports:
            continue
        # Ingress at the pod depends on its namespace, labels and ports only (not its IP or node).
        key = (pod.namespace, frozenset(pod.labels.items()), pod.ports)
        if key not in memo:
            dst = Endpoint("pod", pod=pod)
            others = [ns for ns in world.namespaces if ns != pod.namespace]
            isolated = analyzer.selecting(pod, "ingress")
            ips = external_candidates(cluster, isolated)
            everywhere: list[str] = []
            outside: list[str] = []
            for port, proto, name in ports:
                label = f"{proto}/{port}" + (f" ({name})" if name else "")
                if others and _admits_every_namespace(analyzer, dst, others, proto, port, Pod, Endpoint):
                    everywhere.append(label)
                for ip in ips:
                    if not analyzer.direction(dst, Endpoint("ip", ip=ip), "ingress", proto, port).denies:
                        outside.append(f"{label} from {ip}")
                        break
            memo[key] = (everywhere, outside)
        everywhere, outside = memo[key]
        src = pod_source(world, pod)
        if src is None:
            continue
        obj, path = src
        if everywhere:
            yield ctx.finding(
                ALL_NAMESPACES,
                obj,
                path,
                "serving port reachable from every namespace",
                f"{pod.key}: {', '.join(everywhere)}",
                evidence=(("ports", tuple(everywhere)),),
            )
        if outside:
            yield ctx.finding(
                OUTSIDE,
                obj,
                path,
                "serving port reachable from outside the cluster",
                f"{pod.key}: {', '.join(outside)}",
                evidence=(("ports", tuple(outside)),),
            )


def _admits_every_namespace(
    analyzer: Analyzer, dst: Endpoint, others: list[str], proto: str, port: int, pod_cls: Any, ep_cls: Any
) -> bool:
    """Whether the destination's ingress admits an unlabelled pod from each other namespace."""
    world = analyzer.world
    target = dst.pod
    assert target is not None
    if world.tier_policies:
        # Admin/baseline rules may single out namespaces: ask the evaluator for each one.
        return all(
            not analyzer.direction(dst, ep_cls("pod", pod=pod_cls(ns, "*", {})), "ingress", proto, port).denies
            for ns in others
        )
    policies = analyzer.selecting(target, "ingress")
    if not policies:
        return True
    covered: set[str] = set()
    wanted = set(others)
    for pol in policies:
        for rule in pol.ingress or ():
            if not analyzer.port_matches(rule.ports, proto, port, dst):
                continue
            if rule.peers is None:
                return True
            for peer in rule.peers:
                if peer.ip_block is not None:
                    # The probe pod has no IP: only a whole-family block matches it for certain.
                    block = peer.ip_block
                    if world.options.ipblock_matches_pod_ips and block.cidr.prefixlen == 0 and not block.excepts:
                        return True
                    continue
                if not peer.pods.matches({}):
                    continue
                if peer.namespaces is None:
                    covered.add(pol.namespace)
                else:
                    covered |= analyzer.namespaces_matching(peer.namespaces)
                if covered >= wanted:
                    return True
    return covered >= wanted
