"""Shared plumbing for the netpol checks: the engine built once per scan, and settings.

Settings (``netpol:`` in stockade.yaml)::

    netpol:
      sensitive_labels: ["data=sensitive", "stockade.io/sensitive"]   # key=value or key (exists)
      # (``sensitive_label: key=value`` is accepted for a single label)
      ignore_namespaces: [kube-system, kube-public, kube-node-lease]
      ipblock_matches_pod_ips: true       # implementation-defined behaviours, upstream defaults
      hostnetwork: node-traffic           # or pod-like
      self_exempt: true
      egress_to_own_node: false
      endport_supported: true
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stockade.errors import ConfigError
from stockade.model import Reference

IP = ipaddress.IPv4Address | ipaddress.IPv6Address

if TYPE_CHECKING:
    from stockade.checks.registry import ScanContext
    from stockade.engines.netpol import Analyzer, Pod, World
    from stockade.engines.netpol.policy import NetworkPolicy, TierPolicy
    from stockade.loading.objects import K8sObject

NP_DOC = Reference(
    "Kubernetes: Network Policies",
    "https://kubernetes.io/docs/concepts/services-networking/network-policies/",
)
ANP_DOC = Reference(
    "Network Policy API: AdminNetworkPolicy and ClusterNetworkPolicy",
    "https://network-policy-api.sigs.k8s.io/",
)
DEFAULT_SENSITIVE = ("data=sensitive", "stockade.io/sensitive=true")
DEFAULT_IGNORED = ("kube-system", "kube-public", "kube-node-lease")

# Representative addresses outside any cluster range, tried besides the edges of every ipBlock.
PUBLIC_PROBES = ("198.51.100.10", "203.0.113.7", "8.8.8.8", "2001:db8::10")


@dataclass(frozen=True, slots=True)
class Settings:
    """The ``netpol`` configuration section, validated."""

    sensitive: tuple[tuple[str, str | None], ...]
    ignore_namespaces: frozenset[str]
    options: Mapping[str, Any]

    def is_sensitive(self, labels: Mapping[str, str]) -> bool:
        """Whether a pod carries one of the sensitive-data labels."""
        return any(k in labels and (v is None or labels[k] == v) for k, v in self.sensitive)


def settings(ctx: ScanContext) -> Settings:
    """Settings from the ``netpol`` configuration section (memoised per scan)."""
    hit = ctx.cache.get("netpol.settings")
    if hit is not None:
        return hit  # type: ignore[no-any-return]
    sec = ctx.config.section("netpol")
    src = ctx.config.source or "<config>"
    labels = sec.get("sensitive_labels", sec.get("sensitive_label", list(DEFAULT_SENSITIVE)))
    if isinstance(labels, str):
        labels = [labels]
    if not isinstance(labels, list) or not all(isinstance(x, str) and x for x in labels):
        raise ConfigError(f"{src}: netpol.sensitive_labels must be a list of 'key' or 'key=value' strings")
    sensitive = tuple((x.split("=", 1)[0], x.split("=", 1)[1]) if "=" in x else (x, None) for x in labels)
    ignored = sec.get("ignore_namespaces", list(DEFAULT_IGNORED))
    if not isinstance(ignored, list) or not all(isinstance(x, str) for x in ignored):
        raise ConfigError(f"{src}: netpol.ignore_namespaces must be a list of namespace names")
    from stockade.engines.netpol.model import option_overrides

    opts = option_overrides(sec, src)
    result = Settings(sensitive, frozenset(ignored), opts)
    ctx.cache["netpol.settings"] = result
    return result


def engine(ctx: ScanContext) -> tuple[World, Analyzer]:
    """The world and analyzer for this scan, built once and shared by every netpol check."""
    hit = ctx.cache.get("netpol.engine")
    if hit is None:
        from stockade.engines.netpol import Analyzer, Options
        from stockade.engines.netpol.inventory import world_from_inventory

        world = world_from_inventory(ctx.inventory, Options(**settings(ctx).options))
        hit = (world, Analyzer(world))
        ctx.cache["netpol.engine"] = hit
    return hit


def pod_source(world: World, pod: Pod) -> tuple[K8sObject, str] | None:
    """The object a pod (or workload) came from and the field path of its labels."""
    src = world.sources.get(pod.key)
    if src is None:
        return None
    obj, spec_path = src
    base = spec_path[: -len(".spec")] if spec_path.endswith(".spec") else ""
    return obj, f"{base}.metadata.labels" if base else "metadata.labels"


def governed_pods(world: World, analyzer: Analyzer, ignored: frozenset[str]) -> Iterator[Pod]:
    """Pods NetworkPolicies apply to, outside ignored namespaces, with a source object."""
    from stockade.engines.netpol import Endpoint

    for pod in world.pods.values():
        if pod.namespace in ignored or pod.key not in world.sources:
            continue
        if analyzer.governed(Endpoint("pod", pod=pod)) is not None:
            yield pod


def cluster_ips(world: World) -> frozenset[IP]:
    """Every pod and node address of the world."""
    pods = (ip for p in world.pods.values() for ip in p.ips)
    nodes = (ip for n in world.nodes.values() for ip in n.ips)
    return frozenset(pods) | frozenset(nodes)


def external_candidates(
    cluster: frozenset[IP], policies: Iterable[NetworkPolicy], tier_policies: Iterable[TierPolicy] = ()
) -> list[IP]:
    """Addresses outside the cluster worth testing: public probes and the edges of every ipBlock.

    Admin and baseline ``networks`` peers count too: an admin Allow to one range ahead of a Deny of
    0.0.0.0/0 leaves that range open while every public probe is denied.
    """
    cands: list[IP] = [ipaddress.ip_address(x) for x in PUBLIC_PROBES]
    for tp in tier_policies:
        for trule in tp.ingress + tp.egress:
            for tpeer in trule.peers:
                for net in tpeer.networks:
                    cands += [net.network_address, net.broadcast_address]
    for pol in policies:
        for rules in (pol.ingress or (), pol.egress or ()):
            for rule in rules:
                for peer in rule.peers or ():
                    block = peer.ip_block
                    if block is None:
                        continue
                    cands += [block.cidr.network_address, block.cidr.broadcast_address]
                    for ex in block.excepts:
                        # Just outside each exception: inside the block, so possibly allowed.
                        for edge in (int(ex.network_address) - 1, int(ex.broadcast_address) + 1):
                            if 0 <= edge < 2 ** (32 if ex.version == 4 else 128):
                                cands.append(
                                    ipaddress.IPv4Address(edge) if ex.version == 4 else ipaddress.IPv6Address(edge)
                                )
    return [ip for ip in dict.fromkeys(cands) if ip not in cluster]


def serving_ports(pod: Pod) -> list[tuple[int, str, str]]:
    """(port, protocol, name) the pod's containers declare."""
    out: list[tuple[int, str, str]] = []
    for cp in pod.ports:
        if (cp.port, cp.protocol) not in {(p, pr) for p, pr, _ in out}:
            out.append((cp.port, cp.protocol, cp.name))
    return out
