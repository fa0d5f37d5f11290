"""Policies that do not do what they say: selecting nothing, peers matching nothing, named ports no
container defines, and policies the API server would reject.

These are reported only when the inputs contain pods (a policy-only repository cannot tell); a
peer is reported only when every namespace it could match has pods in the inputs, and a
namespaceSelector matching no namespace only for a cluster dump (inputs with Node objects).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from stockade.checks.netpol.common import NP_DOC, engine
from stockade.checks.registry import ScanContext, declare, register
from stockade.engines.netpol.model import NS_NAME_LABEL
from stockade.model import CheckSpec, Finding, Severity

if TYPE_CHECKING:
    from stockade.engines.netpol import World
    from stockade.loading.objects import K8sObject

# Namespaces every cluster has, even when the inputs do not list them.
ALWAYS_PRESENT = ("default", "kube-system", "kube-public", "kube-node-lease")

SELECTS_NOTHING = CheckSpec(
    id="netpol.policy-selects-nothing",
    title="NetworkPolicy selects no pod",
    severity=Severity.LOW,
    rationale="A policy whose podSelector matches no pod of its namespace protects nothing; usually a "
    "label or namespace typo leaves the intended workload open.",
    remediation="Fix the podSelector labels or the policy's namespace so it selects the intended pods.",
    references=(NP_DOC,),
)
PEER_NOTHING = declare(
    CheckSpec(
        id="netpol.peer-matches-nothing",
        title="NetworkPolicy peer matches no pod or namespace",
        severity=Severity.LOW,
        rationale="A peer that matches nothing allows nothing: the intended client is blocked and teams "
        "tend to fix it by opening the rule wide. A podSelector written as a separate list item is scoped "
        "to the policy's own namespace, which is a common cause.",
        remediation="Fix the selector labels, or put namespaceSelector and podSelector in the same peer "
        "when both must hold.",
        references=(NP_DOC,),
    )
)
NAMED_PORT = declare(
    CheckSpec(
        id="netpol.named-port-undefined",
        title="Named port in a NetworkPolicy that no container defines",
        severity=Severity.LOW,
        rationale="A named port resolves on the destination pod's container ports with the same protocol; "
        "when no container defines it the rule allows nothing (protocol omitted means TCP).",
        remediation="Use a port name the destination containers declare (with the same protocol), or a number.",
        references=(NP_DOC,),
    )
)
INVALID = declare(
    CheckSpec(
        id="netpol.invalid-policy",
        title="Network policy the API server would reject",
        severity=Severity.MEDIUM,
        rationale="An invalid policy is never applied, so the isolation it describes does not exist.",
        remediation="Fix the field named in the finding so the policy validates.",
        references=(NP_DOC,),
    )
)


@register(SELECTS_NOTHING)
def check(ctx: ScanContext) -> Iterator[Finding]:
    """Invalid policies, policies selecting nothing, peers matching nothing, undefined named ports."""
    from stockade.engines.netpol import Endpoint

    world, analyzer = engine(ctx)
    for skipped in world.skipped:
        src = _policy_source(world, skipped.ref)
        if src is not None:
            yield ctx.finding(
                INVALID,
                src,
                "spec",
                "policy would be rejected by the API server",
                f"{skipped.ref}: {skipped.reason}",
            )
    if not world.pods:
        return
    governed = [p for p in world.pods.values() if analyzer.governed(Endpoint("pod", pod=p)) is not None]
    with_pods = {p.namespace for p in governed}
    # Only a cluster dump (it has Node objects) lists every namespace; manifests may not.
    complete = bool(ctx.inventory.kinds("Node"))
    for pol in world.policies:
        obj = _policy_source(world, pol.ref)
        if obj is None:
            continue
        subjects = [p for p in governed if p.namespace == pol.namespace and pol.pod_selector.matches(p.labels)]
        if not subjects:
            if pol.namespace in with_pods or not pol.pod_selector.is_empty:
                yield ctx.finding(
                    SELECTS_NOTHING,
                    obj,
                    "spec.podSelector",
                    "policy selects no pod",
                    f"{pol.ref}: podSelector {pol.pod_selector} matches no pod in namespace {pol.namespace}",
                )
            continue
        for direction, key in (("ingress", "from"), ("egress", "to")):
            for rule in (pol.ingress if direction == "ingress" else pol.egress) or ():
                peer_pods = []
                for j, peer in enumerate(rule.peers or ()):
                    if peer.ip_block is not None:
                        continue
                    if peer.namespaces is None:
                        spaces = [pol.namespace]
                    else:
                        spaces = [n for n, ns in world.namespaces.items() if peer.namespaces.matches(ns.labels)]
                    matched = [p for p in governed if p.namespace in spaces and peer.pods.matches(p.labels)]
                    peer_pods += matched
                    path = f"spec.{direction}[{rule.index}].{key}[{j}]"
                    if (
                        not spaces
                        and complete
                        and peer.namespaces is not None
                        and not any(peer.namespaces.matches({NS_NAME_LABEL: n}) for n in ALWAYS_PRESENT)
                    ):
                        yield ctx.finding(
                            PEER_NOTHING,
                            obj,
                            path,
                            "peer matches no namespace",
                            f"{pol.ref}: namespaceSelector {peer.namespaces} matches no namespace",
                        )
                    elif spaces and not matched and all(n in with_pods for n in spaces):
                        yield ctx.finding(
                            PEER_NOTHING,
                            obj,
                            path,
                            "peer matches no pod",
                            f"{pol.ref}: {peer.describe()} matches no pod",
                        )
                targets = subjects if direction == "ingress" else (governed if rule.peers is None else peer_pods)
                if not targets:
                    continue
                for k, pm in enumerate(rule.ports or ()):
                    if pm.name is None:
                        continue
                    if not any(t.resolve_named_port(pm.name, pm.protocol) is not None for t in targets):
                        yield ctx.finding(
                            NAMED_PORT,
                            obj,
                            f"spec.{direction}[{rule.index}].ports[{k}].port",
                            "named port defined by no destination container",
                            f"{pol.ref}: {pm.protocol} port {pm.name!r} is not a container port of "
                            f"{'the selected pods' if direction == 'ingress' else 'the peer pods'}",
                        )


def _policy_source(world: World, ref: str) -> K8sObject | None:
    """The object of a policy ref (skipped refs carry a ``Kind/`` prefix for NetworkPolicies)."""
    hit = world.policy_sources.get(ref)
    if hit is None and ref.startswith("NetworkPolicy/"):
        hit = world.policy_sources.get(ref[len("NetworkPolicy/") :])
    return hit
