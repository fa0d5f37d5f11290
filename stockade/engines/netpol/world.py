"""A :class:`World`: the cluster snapshot the engine evaluates, with the indexes queries need."""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from stockade.engines.netpol.model import (
    NS_NAME_LABEL,
    ContainerPort,
    Endpoint,
    IPAddress,
    Namespace,
    Node,
    Options,
    Pod,
)
from stockade.engines.netpol.policy import (
    NETWORKPOLICY_KINDS,
    TIER_KINDS,
    NetworkPolicy,
    PolicyError,
    TierPolicy,
    parse_network_policy,
    parse_tier_policy,
)
from stockade.errors import EngineError


@dataclass(frozen=True, slots=True)
class SkippedPolicy:
    """A policy the API server would reject, so it is not in effect; kept to be reported."""

    ref: str
    reason: str


class World:
    """Namespaces, pods, nodes and policies, indexed for queries.

    Namespaces referenced by pods or policies but not given get the automatic
    ``kubernetes.io/metadata.name`` label only; given namespaces get it added as the API
    server does.
    """

    def __init__(
        self,
        *,
        namespaces: Iterable[Namespace] = (),
        pods: Iterable[Pod] = (),
        nodes: Iterable[Node] = (),
        policies: Iterable[NetworkPolicy] = (),
        tier_policies: Iterable[TierPolicy] = (),
        options: Options | None = None,
        skipped: Iterable[SkippedPolicy] = (),
        aliases: Mapping[str, str] | None = None,
    ) -> None:
        self.options = options or Options()
        self.aliases: dict[str, str] = dict(aliases or {})
        """Extra endpoint names: a workload whose real pods are present -> one of those pods."""
        self.sources: dict[str, Any] = {}
        """Pod keys -> (object, pod spec path) they came from (set by the inventory builder)."""
        self.policy_sources: dict[str, Any] = {}
        """Policy refs (``ns/name``, ``Kind/name`` for tiers) -> the object (set by the inventory builder)."""
        self.pods: dict[str, Pod] = {}
        for pod in pods:
            self.pods[pod.key] = pod
        self.nodes: dict[str, Node] = {n.name: n for n in nodes}
        self.policies: list[NetworkPolicy] = list(policies)
        self.tier_policies: list[TierPolicy] = sorted(tier_policies, key=lambda p: (p.tier, p.priority, p.name))
        self.skipped: list[SkippedPolicy] = list(skipped)
        self.namespaces: dict[str, Namespace] = {}
        for ns in namespaces:
            self.namespaces[ns.name] = Namespace(ns.name, {**ns.labels, NS_NAME_LABEL: ns.name})
        wanted = {p.namespace for p in self.pods.values()} | {p.namespace for p in self.policies}
        for name in sorted(wanted - set(self.namespaces)):
            self.namespaces[name] = Namespace(name, {NS_NAME_LABEL: name})
        self.pods_by_ns: dict[str, list[Pod]] = defaultdict(list)
        for pod in self.pods.values():
            self.pods_by_ns[pod.namespace].append(pod)
        self.policies_by_ns: dict[str, list[NetworkPolicy]] = defaultdict(list)
        for pol in self.policies:
            self.policies_by_ns[pol.namespace].append(pol)
        self._node_by_ip: dict[IPAddress, Node] = {}
        for node in self.nodes.values():
            for ip in node.ips:
                self._node_by_ip.setdefault(ip, node)
        self._pod_by_ip: dict[IPAddress, Pod] = {}
        for pod in self.pods.values():
            if not pod.host_network:
                for ip in pod.ips:
                    self._pod_by_ip.setdefault(ip, pod)

    @property
    def admin_policies(self) -> list[TierPolicy]:
        """Admin-tier policies in precedence order."""
        return [p for p in self.tier_policies if p.tier == "admin"]

    @property
    def baseline_policies(self) -> list[TierPolicy]:
        """Baseline-tier policies in precedence order."""
        return [p for p in self.tier_policies if p.tier == "baseline"]

    def namespace_labels(self, name: str) -> Mapping[str, str]:
        """A namespace's labels; an unknown namespace has only its automatic name label."""
        ns = self.namespaces.get(name)
        return ns.labels if ns is not None else {NS_NAME_LABEL: name}

    def node_ips(self, pod: Pod) -> tuple[IPAddress, ...]:
        """The IPs of a pod's node (a hostNetwork pod's own IPs)."""
        node = self.nodes.get(pod.node or "")
        if node is not None and node.ips:
            return node.ips
        return pod.ips

    def endpoint(self, ref: str) -> Endpoint:
        """Resolve ``ns/name``, ``ns/Kind/name``, ``node/NAME``, ``ip:ADDR`` or a bare IP address."""
        text = ref.strip()
        if text.startswith("node/"):
            node = self.nodes.get(text[5:])
            if node is None:
                if not self.nodes:
                    raise EngineError(
                        f"{ref}: no such node (the inputs have no Node objects; add them, as in a cluster dump)"
                    )
                raise EngineError(f"{ref}: no such node (known: {', '.join(sorted(self.nodes))})")
            return Endpoint("node", node=node)
        addr = text[3:] if text.startswith("ip:") else text
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            ip = None
        if ip is not None:
            node = self._node_by_ip.get(ip)
            if node is not None:
                return Endpoint("node", node=node, ip=ip)
            pod = self._pod_by_ip.get(ip)
            if pod is not None:
                return Endpoint("pod", pod=pod, ip=ip)
            return Endpoint("ip", ip=ip)
        if text.startswith("ip:"):
            raise EngineError(f"{ref}: not an IP address")
        pod = self.pods.get(text) or self.pods.get(self.aliases.get(text, ""))
        if pod is not None:
            return Endpoint("pod", pod=pod)
        parts = text.split("/")
        if len(parts) == 3:
            ns, kind, name = parts
            name, _, role = name.partition(":")
            found = [
                p
                for p in self.pods_by_ns.get(ns, ())
                if p.kind.lower() == kind.lower() and p.name == name and (not role or p.role == role)
            ]
            if len(found) == 1:
                return Endpoint("pod", pod=found[0])
            if found:
                opts = ", ".join(sorted(p.key for p in found))
                raise EngineError(f"{ref}: ambiguous, several pod templates: {opts}")
        if len(parts) == 2:
            ns, name = parts
            matches = [p for p in self.pods_by_ns.get(ns, ()) if p.name == name]
            if len(matches) == 1:
                return Endpoint("pod", pod=matches[0])
            if matches:
                opts = ", ".join(sorted(p.key for p in matches))
                raise EngineError(f"{ref}: ambiguous, name one of: {opts}")
        if len(parts) not in (2, 3):
            raise EngineError(f"{ref}: expected namespace/name, node/NAME or an IP address")
        raise EngineError(f"{ref}: no pod or workload with that name")

    # ------------------------------------------------------------------ builders

    @classmethod
    def from_spec(
        cls,
        *,
        nodes: Mapping[str, Any] | None = None,
        namespaces: Mapping[str, Any] | None = None,
        pods: Mapping[str, Any] | None = None,
        policies: Iterable[Mapping[str, Any]] = (),
        options: Options | None = None,
    ) -> World:
        """Build from the compact world format of the conformance vectors (plain dicts)."""
        node_objs = [
            Node(
                name,
                tuple(ipaddress.ip_address(ip) for ip in _listify((v or {}).get("ip"))),
                dict((v or {}).get("labels") or {}),
            )
            for name, v in (nodes or {}).items()
        ]
        ns_objs = [Namespace(name, dict((v or {}).get("labels") or {})) for name, v in (namespaces or {}).items()]
        by_name = {n.name: n for n in node_objs}
        pod_objs = []
        for key, v in (pods or {}).items():
            v = v or {}
            ns, name = key.split("/", 1)
            host = bool(v.get("hostNetwork"))
            node = v.get("node")
            ips: tuple[IPAddress, ...] = tuple(ipaddress.ip_address(ip) for ip in _listify(v.get("ip")))
            if host and not ips and node in by_name:
                ips = by_name[node].ips
            ports = tuple(
                ContainerPort(str(p.get("name") or ""), int(p["port"]), str(p.get("protocol") or "TCP"))
                for p in v.get("ports") or []
            )
            pod_objs.append(Pod(ns, name, dict(v.get("labels") or {}), ips, node, ports, host))
        return cls.from_objects(policies, namespaces=ns_objs, pods=pod_objs, nodes=node_objs, options=options)

    @classmethod
    def from_objects(
        cls,
        objects: Iterable[Mapping[str, Any]],
        *,
        namespaces: Iterable[Namespace] = (),
        pods: Iterable[Pod] = (),
        nodes: Iterable[Node] = (),
        options: Options | None = None,
    ) -> World:
        """Build from raw policy objects (dicts) plus already-built namespaces, pods and nodes."""
        # One object per identity, as in the API server: a later valid definition replaces an earlier
        # one (kubectl apply in input order); a rejected one leaves the earlier in place.
        nps: dict[tuple[str, str], NetworkPolicy] = {}
        tiers: dict[tuple[str, str], TierPolicy] = {}
        skipped: list[SkippedPolicy] = []
        for body in objects:
            kind = str(body.get("kind"))
            md = body.get("metadata")
            md = md if isinstance(md, Mapping) else {}
            ns = md.get("namespace")
            ref = f"{kind}/{str(ns) + '/' if ns else ''}{md.get('name')}"
            try:
                if kind in NETWORKPOLICY_KINDS:
                    pol = parse_network_policy(body)
                    nps.pop((pol.namespace, pol.name), None)
                    nps[(pol.namespace, pol.name)] = pol
                elif kind in TIER_KINDS:
                    tier = parse_tier_policy(body)
                    tiers.pop((tier.kind, tier.name), None)
                    tiers[(tier.kind, tier.name)] = tier
            except PolicyError as e:
                skipped.append(SkippedPolicy(ref, str(e)))
        return cls(
            namespaces=namespaces,
            pods=pods,
            nodes=nodes,
            policies=list(nps.values()),
            tier_policies=list(tiers.values()),
            options=options,
            skipped=skipped,
        )


def _listify(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]
