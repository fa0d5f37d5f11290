"""Exact evaluation of one connection, with the explanation per direction.

This is the reference semantics: every other answer (the class matrix, the scan checks) must
agree with it. A query is evaluated in two directions, egress at the source and ingress at the
destination; the connection is allowed when neither denies it (or when it is a pod's traffic to
itself and ``Options.self_exempt`` holds). Each direction walks the tiers: admin
(AdminNetworkPolicy / ClusterNetworkPolicy Admin), then NetworkPolicy, then baseline
(BaselineAdminNetworkPolicy / ClusterNetworkPolicy Baseline), then the default allow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from stockade.engines.netpol.model import PROTOCOLS, Endpoint, IPAddress, Pod
from stockade.engines.netpol.policy import (
    Direction,
    NetworkPolicy,
    Peer,
    PortMatch,
    TierPeer,
    TierPolicy,
    TierRule,
)
from stockade.engines.netpol.selectors import Selector
from stockade.engines.netpol.world import World
from stockade.errors import EngineError

NOT_APPLICABLE = "not-applicable"
NOT_ISOLATED = "not-isolated"
ALLOWED = "allowed"
DENIED = "denied"
NODE_EXEMPT = "node-exempt"


@dataclass(frozen=True, slots=True)
class DirectionResult:
    """Why one direction allows or denies.

    ``status`` is ``not-applicable`` (the endpoint is not a policy-governed pod),
    ``not-isolated``, ``allowed`` (``by`` lists every matching rule), ``denied`` (``isolated_by``
    lists the isolating policies) or ``node-exempt`` (ingress from the pod's own node). A decision
    taken by an admin or baseline policy sets ``tier`` and names the first matching rule in ``by``.
    """

    status: str
    by: tuple[str, ...] = ()
    isolated_by: tuple[str, ...] = ()
    tier: str = ""
    passed_by: tuple[str, ...] = ()
    ambiguous_with: tuple[str, ...] = ()

    @property
    def denies(self) -> bool:
        """True when this direction blocks the connection."""
        return self.status == DENIED

    def to_dict(self) -> dict[str, Any]:
        """The ``explain`` form used by the conformance vectors (extra keys only when set)."""
        out: dict[str, Any] = {"status": self.status}
        if self.by:
            out["by"] = list(self.by)
        if self.isolated_by:
            out["isolated_by"] = list(self.isolated_by)
        if self.tier:
            out["tier"] = self.tier
        if self.passed_by:
            out["passed_by"] = list(self.passed_by)
        if self.ambiguous_with:
            out["ambiguous_with"] = list(self.ambiguous_with)
        return out


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer to one query."""

    source: Endpoint
    destination: Endpoint
    protocol: str
    port: int
    allowed: bool
    egress: DirectionResult
    ingress: DirectionResult
    self_traffic: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready explanation."""
        out: dict[str, Any] = {
            "from": str(self.source),
            "to": str(self.destination),
            "port": self.port,
            "protocol": self.protocol,
            "allowed": self.allowed,
            "egress": self.egress.to_dict(),
            "ingress": self.ingress.to_dict(),
        }
        if self.self_traffic:
            out["self"] = True
        return out


_NOT_APPLICABLE = DirectionResult(NOT_APPLICABLE)
_NOT_ISOLATED = DirectionResult(NOT_ISOLATED)


class Analyzer:
    """Answers reachability queries on a :class:`World` (memoises per-pod policy lookups)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.options = world.options
        self._selecting: dict[tuple[str, frozenset[tuple[str, str]], Direction], list[NetworkPolicy]] = {}
        self._admin = world.admin_policies
        self._baseline = world.baseline_policies
        self._ns_match: dict[Selector, frozenset[str]] = {}

    # ------------------------------------------------------------------ endpoints

    def governed(self, ep: Endpoint) -> Pod | None:
        """The pod NetworkPolicies apply to at this endpoint, if any.

        hostNetwork pods are node traffic unless ``hostnetwork='pod-like'``.
        """
        pod = ep.pod
        if pod is None:
            return None
        if pod.host_network and self.options.hostnetwork == "node-traffic":
            return None
        return pod

    def _ips(self, ep: Endpoint) -> tuple[IPAddress, ...]:
        """The addresses an endpoint's traffic carries."""
        if ep.pod is not None:
            if ep.pod.host_network:
                return self.world.node_ips(ep.pod)
            return ep.pod.ips
        if ep.node is not None:
            return ep.node.ips
        return (ep.ip,) if ep.ip is not None else ()

    def _node_name(self, ep: Endpoint) -> str | None:
        """The node an endpoint *is* (a node, or a hostNetwork pod acting as its node)."""
        if ep.node is not None:
            return ep.node.name
        if ep.pod is not None and ep.pod.host_network and self.governed(ep) is None:
            return ep.pod.node
        return None

    def namespaces_matching(self, selector: Selector) -> frozenset[str]:
        """Names of the world's namespaces a namespace selector matches (memoised)."""
        hit = self._ns_match.get(selector)
        if hit is None:
            hit = frozenset(n for n, ns in self.world.namespaces.items() if selector.matches(ns.labels))
            self._ns_match[selector] = hit
        return hit

    def selecting(self, pod: Pod, direction: Direction) -> list[NetworkPolicy]:
        """NetworkPolicies that select ``pod`` and cover ``direction`` (they isolate it)."""
        # Selection depends on the namespace and labels only, so pods with equal labels share it.
        key = (pod.namespace, frozenset(pod.labels.items()), direction)
        found = self._selecting.get(key)
        if found is None:
            found = [
                p
                for p in self.world.policies_by_ns.get(pod.namespace, ())
                if p.rules(direction) is not None and p.pod_selector.matches(pod.labels)
            ]
            self._selecting[key] = found
        return found

    # ------------------------------------------------------------------ NetworkPolicy tier

    def np_peer_matches(self, peer: Peer, policy_ns: str, remote: Endpoint) -> bool:
        """Whether a NetworkPolicy peer matches the remote endpoint."""
        if peer.ip_block is not None:
            return self._ipblock_matches(peer, remote)
        pod = self.governed(remote)
        if pod is None:
            return False
        if peer.namespaces is None:
            if pod.namespace != policy_ns:
                return False
        elif not peer.namespaces.matches(self.world.namespace_labels(pod.namespace)):
            return False
        return peer.pods.matches(pod.labels)

    def _ipblock_matches(self, peer: Peer, remote: Endpoint) -> bool:
        block = peer.ip_block
        assert block is not None
        if self.governed(remote) is not None:
            if not self.options.ipblock_matches_pod_ips:
                return False
            pod = remote.pod
            assert pod is not None
            if not pod.ips:
                # A template pod has no IP yet: only a block covering the whole family is certain.
                return block.cidr.prefixlen == 0 and not block.excepts
        return any(block.contains(ip) for ip in self._ips(remote))

    def port_matches(self, ports: Sequence[PortMatch] | None, protocol: str, port: int, dst: Endpoint) -> bool:
        """Whether a rule's ports admit the traffic; named ports resolve on the destination pod."""
        if ports is None:
            return True
        for pm in ports:
            if pm.protocol != protocol:
                continue
            if pm.name is not None:
                target = self.governed(dst)
                if target is not None and target.resolve_named_port(pm.name, protocol) == port:
                    return True
            elif pm.start is None:
                return True
            else:
                end = pm.end if (self.options.endport_supported and pm.end is not None) else pm.start
                if pm.start <= port <= end:
                    return True
        return False

    def np_direction(
        self, subject: Pod, remote: Endpoint, direction: Direction, protocol: str, port: int, dst: Endpoint
    ) -> DirectionResult:
        """The NetworkPolicy verdict for one direction at ``subject``."""
        policies = self.selecting(subject, direction)
        if not policies:
            return _NOT_ISOLATED
        if direction == "ingress" and subject.node is not None and self._node_name(remote) == subject.node:
            return DirectionResult(NODE_EXEMPT)
        if (
            direction == "egress"
            and self.options.egress_to_own_node
            and subject.node is not None
            and self._node_name(remote) == subject.node
        ):
            return DirectionResult(NODE_EXEMPT)
        by: list[str] = []
        for pol in policies:
            for rule in pol.rules(direction) or ():
                if rule.peers is not None and not any(
                    self.np_peer_matches(p, pol.namespace, remote) for p in rule.peers
                ):
                    continue
                if self.port_matches(rule.ports, protocol, port, dst):
                    by.append(f"{pol.ref}:{direction}[{rule.index}]")
        # Policies form a union, so their order carries no meaning: report them sorted.
        if by:
            return DirectionResult(ALLOWED, by=tuple(sorted(by)))
        return DirectionResult(DENIED, isolated_by=tuple(sorted({p.ref for p in policies})))

    # ------------------------------------------------------------------ admin / baseline tiers

    def tier_subject(self, pol: TierPolicy, pod: Pod) -> bool:
        """Whether a tier policy selects the pod (hostNetwork pods are never subjects)."""
        if pod.host_network:
            return False
        return pol.subject_namespaces.matches(self.world.namespace_labels(pod.namespace)) and pol.subject_pods.matches(
            pod.labels
        )

    def tier_peer_matches(self, peer: TierPeer, remote: Endpoint) -> bool:
        """Whether an admin/baseline peer matches the remote endpoint."""
        if peer.kind in ("namespaces", "pods"):
            pod = remote.pod
            if pod is None or pod.host_network:
                return False
            ns_labels = self.world.namespace_labels(pod.namespace)
            return peer.namespaces.matches(ns_labels) and peer.pods.matches(pod.labels)
        if peer.kind == "nodes":
            node = remote.node
            if node is None and remote.pod is not None and remote.pod.host_network:
                node = self.world.nodes.get(remote.pod.node or "")
            return node is not None and peer.nodes.matches(node.labels)
        if peer.kind == "networks":
            ips = self._ips(remote)
            if not ips and remote.pod is not None:
                return any(n.prefixlen == 0 for n in peer.networks)
            return any(ip.version == n.version and ip in n for ip in ips for n in peer.networks)
        # domainNames cannot be resolved offline; unknown peers are handled by fail_closed.
        return False

    def _tier_ports(self, rule: TierRule, protocol: str, port: int, dst: Endpoint) -> bool:
        return self.port_matches(rule.ports, protocol, port, dst)

    def _first_match(
        self, pol: TierPolicy, direction: Direction, remote: Endpoint, protocol: str, port: int, dst: Endpoint
    ) -> TierRule | None:
        for rule in pol.rules(direction):
            if rule.fail_closed:
                if rule.action == "Allow":
                    continue
                return rule
            if any(self.tier_peer_matches(p, remote) for p in rule.peers) and self._tier_ports(
                rule, protocol, port, dst
            ):
                return rule
        return None

    def tier_decide(
        self,
        policies: Sequence[TierPolicy],
        subject: Pod,
        remote: Endpoint,
        direction: Direction,
        protocol: str,
        port: int,
        dst: Endpoint,
    ) -> tuple[str, str, tuple[str, ...]] | None:
        """First decision of a tier: (action, rule ref, same-priority rivals), or None."""
        for i, pol in enumerate(policies):
            if not pol.rules(direction) or not self.tier_subject(pol, subject):
                continue
            rule = self._first_match(pol, direction, remote, protocol, port, dst)
            if rule is None:
                continue
            action = "Deny" if rule.fail_closed else rule.action
            rivals: list[str] = []
            # Same priority and another verdict: upstream leaves the choice to the implementation.
            for other in policies[i + 1 :]:
                if other.priority != pol.priority:
                    break
                if not self.tier_subject(other, subject):
                    continue
                orule = self._first_match(other, direction, remote, protocol, port, dst)
                if orule is not None and ("Deny" if orule.fail_closed else orule.action) != action:
                    rivals.append(_tier_rule_ref(other, direction, orule))
            return action, _tier_rule_ref(pol, direction, rule), tuple(rivals)
        return None

    # ------------------------------------------------------------------ one direction, all tiers

    def direction(
        self, subject_ep: Endpoint, remote: Endpoint, direction: Direction, protocol: str, port: int
    ) -> DirectionResult:
        """The verdict of one direction at ``subject_ep`` (the source for egress)."""
        subject = self.governed(subject_ep)
        if subject is None:
            return _NOT_APPLICABLE
        dst = remote if direction == "egress" else subject_ep
        passed: tuple[str, ...] = ()
        if self._admin:
            decision = self.tier_decide(self._admin, subject, remote, direction, protocol, port, dst)
            if decision is not None:
                action, ref, rivals = decision
                if action != "Pass":
                    status = ALLOWED if action == "Allow" else DENIED
                    return DirectionResult(status, by=(ref,), tier="admin", ambiguous_with=rivals)
                passed = (ref,)
        result = self.np_direction(subject, remote, direction, protocol, port, dst)
        if result.status != NOT_ISOLATED:
            if passed:
                return DirectionResult(result.status, result.by, result.isolated_by, passed_by=passed)
            return result
        if self._baseline:
            decision = self.tier_decide(self._baseline, subject, remote, direction, protocol, port, dst)
            if decision is not None and decision[0] != "Pass":
                action, ref, rivals = decision
                status = ALLOWED if action == "Allow" else DENIED
                return DirectionResult(status, by=(ref,), tier="baseline", passed_by=passed, ambiguous_with=rivals)
        if passed:
            return DirectionResult(NOT_ISOLATED, passed_by=passed)
        return _NOT_ISOLATED

    # ------------------------------------------------------------------ queries

    def resolve(self, ep: Endpoint | str) -> Endpoint:
        """An endpoint from its text form (see :meth:`World.endpoint`)."""
        return self.world.endpoint(ep) if isinstance(ep, str) else ep

    def port_atoms(self, src: Endpoint | str, dst: Endpoint | str, protocol: str = "TCP") -> list[tuple[int, int]]:
        """Port intervals on which the verdict between two endpoints cannot change.

        Cuts come from the numeric ports and ranges of every policy that can affect the pair (the
        source's egress policies, the destination's ingress policies, the admin and baseline
        tiers) and from the destination pod's container ports (named ports resolve to them).
        """
        s = self.resolve(src)
        d = self.resolve(dst)
        endport = self.options.endport_supported
        cuts = {1, 65536}
        policies: list[NetworkPolicy] = []
        if (sp := self.governed(s)) is not None:
            policies += self.selecting(sp, "egress")
        if (dp := self.governed(d)) is not None:
            policies += self.selecting(dp, "ingress")
            for cp in dp.ports:
                if cp.protocol == protocol:
                    cuts.update((cp.port, cp.port + 1))
        for pol in policies:
            for rules in (pol.ingress or (), pol.egress or ()):
                for rule in rules:
                    _port_cuts(rule.ports, protocol, endport, cuts)
        for tp in self.world.tier_policies:
            for trule in tp.ingress + tp.egress:
                _port_cuts(trule.ports, protocol, True, cuts)
        edges = sorted(c for c in cuts if 1 <= c <= 65536)
        return [(lo, hi - 1) for lo, hi in pairwise(edges)]

    def allowed_ports(self, src: Endpoint | str, dst: Endpoint | str, protocol: str = "TCP") -> list[tuple[int, int]]:
        """Every destination port (as merged inclusive ranges) on which the connection is allowed."""
        out: list[tuple[int, int]] = []
        for lo, hi in self.port_atoms(src, dst, protocol):
            if self.check(src, dst, lo, protocol).allowed:
                if out and out[-1][1] == lo - 1:
                    out[-1] = (out[-1][0], hi)
                else:
                    out.append((lo, hi))
        return out

    def check(self, src: Endpoint | str, dst: Endpoint | str, port: int, protocol: str = "TCP") -> Verdict:
        """Is a connection from ``src`` to ``dst`` on ``protocol``/``port`` allowed, and why."""
        protocol = protocol.upper()
        if protocol not in PROTOCOLS:
            raise EngineError(f"protocol {protocol!r}: expected one of {', '.join(PROTOCOLS)}")
        if not 1 <= port <= 65535:
            raise EngineError(f"port {port}: expected 1-65535")
        s = self.resolve(src)
        d = self.resolve(dst)
        egress = self.direction(s, d, "egress", protocol, port)
        ingress = self.direction(d, s, "ingress", protocol, port)
        self_traffic = s.pod is not None and s.pod is d.pod and not s.pod.is_template
        allowed = (self_traffic and self.options.self_exempt) or not (egress.denies or ingress.denies)
        return Verdict(s, d, protocol, port, allowed, egress, ingress, self_traffic)


def _port_cuts(ports: Sequence[PortMatch] | None, protocol: str, endport: bool, cuts: set[int]) -> None:
    for pm in ports or ():
        if pm.protocol == protocol and pm.name is None and pm.start is not None:
            end = pm.end if (endport and pm.end is not None) else pm.start
            cuts.add(pm.start)
            cuts.add(end + 1)


def _tier_rule_ref(pol: TierPolicy, direction: Direction, rule: TierRule) -> str:
    name = f" ({rule.name})" if rule.name else ""
    return f"{pol.ref}:{direction}[{rule.index}]{name}"
