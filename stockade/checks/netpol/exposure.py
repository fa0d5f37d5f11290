"""Pods whose serving ports every namespace, or the internet, can reach.

Each container port a pod declares is tested at the pod's ingress boundary (all tiers): from an
unlabelled pod in every other namespace of the inputs, and from addresses outside the cluster
(public probes plus the edges of every ipBlock of the policies that select the pod).
"""

from __future__ import annotations

from collections.abc import Iterator

from stockade.checks.netpol.common import (
    ANP_DOC,
    NP_DOC,
    engine,
    external_candidates,
    governed_pods,
    pod_source,
    serving_ports,
    settings,
)
from stockade.checks.registry import ScanContext, declare, register
from stockade.model import CheckSpec, Finding, Severity

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
    from stockade.engines.netpol import Endpoint, Pod

    world, analyzer = engine(ctx)
    st = settings(ctx)
    memo: dict[tuple[object, ...], tuple[list[str], list[str]]] = {}
    for pod in governed_pods(world, analyzer, st.ignore_namespaces):
        ports = serving_ports(pod)
        if not ports:
            continue
        key = (pod.namespace, frozenset(pod.labels.items()), pod.ports, pod.ips, pod.node)
        if key not in memo:
            dst = Endpoint("pod", pod=pod)
            others = [ns for ns in world.namespaces if ns != pod.namespace]
            probes = [Endpoint("pod", pod=Pod(ns, "*", {})) for ns in others]
            isolated = analyzer.selecting(pod, "ingress")
            ips = external_candidates(world, isolated)
            everywhere: list[str] = []
            outside: list[str] = []
            for port, proto, name in ports:
                label = f"{proto}/{port}" + (f" ({name})" if name else "")
                if probes and all(
                    not analyzer.direction(dst, src, "ingress", proto, port).denies for src in probes
                ):
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
