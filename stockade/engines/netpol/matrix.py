"""The full reachability matrix for one protocol and port, computed on equivalence classes.

Naively a cluster of 5,000 pods is 25 million ordered pairs, each scanning the policies. Instead:

1. Pods are grouped into classes that every policy treats alike: same namespace, same labels,
   same hostNetwork flag, same answer for every ipBlock/networks peer, and the same named ports
   resolving to the queried port (replicas of one workload share a class).
2. Every selector and peer is evaluated once per class, giving a bitset over classes (a Python
   int). Peers are deduplicated, so a peer used by a thousand policies is expanded once.
3. Egress is computed per source class (the union of the rule peers of the policies isolating
   it); ingress is inverted per source class through the distinct peer sets, so both directions
   end up as rows keyed by source class and the verdict row is a bitwise AND.
4. Admin and baseline tiers are processed rule by rule in precedence order, keeping per source
   class the undecided, allowed, denied and passed cells.

Cells the class view cannot express (a pod's traffic to itself, node traffic between a
hostNetwork pod and a pod on the same node) are answered by the exact evaluator, which is also
the oracle the tests compare this module against.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from stockade.engines.netpol.evaluate import Analyzer
from stockade.engines.netpol.model import PROTOCOLS, IPAddress, IPNetwork, Pod
from stockade.engines.netpol.policy import IPBlock, Peer, PortMatch, TierPeer
from stockade.engines.netpol.selectors import Selector
from stockade.engines.netpol.world import World
from stockade.errors import EngineError


def _indices(bits: int) -> list[int]:
    """Positions of the set bits (fast for wide ints: one pass over the binary text)."""
    text = bin(bits)[:1:-1]
    out: list[int] = []
    i = text.find("1")
    while i >= 0:
        out.append(i)
        i = text.find("1", i + 1)
    return out


@dataclass(frozen=True, slots=True)
class PodClass:
    """Pods that every policy treats alike for the queried port."""

    index: int
    pods: tuple[Pod, ...]

    @property
    def representative(self) -> Pod:
        """Any member (they are interchangeable)."""
        return self.pods[0]


class Matrix:
    """Allowed connections between every pair of pods for one protocol and port."""

    def __init__(
        self,
        world: World,
        protocol: str,
        port: int,
        classes: list[PodClass],
        class_of: dict[str, int],
        rows: list[int],
        analyzer: Analyzer,
    ) -> None:
        self.world = world
        self.protocol = protocol
        self.port = port
        self.classes = classes
        self._class_of = class_of
        self._rows = rows
        self._analyzer = analyzer

    @property
    def pods(self) -> list[Pod]:
        """Every pod in the matrix, in world order."""
        return list(self.world.pods.values())

    def class_allowed(self, src_class: int, dst_class: int) -> bool:
        """The verdict between two classes (distinct pods, no node exemption)."""
        return bool((self._rows[src_class] >> dst_class) & 1)

    def allowed(self, src: str | Pod, dst: str | Pod) -> bool:
        """The verdict from one endpoint to another (pod keys ``ns/name``; nodes and IPs too).

        Pod pairs are read from the class matrix; any other endpoint (``node/NAME``, an IP, a
        workload alias) is answered by the exact evaluator.
        """
        s = src if isinstance(src, Pod) else self.world.pods.get(src)
        d = dst if isinstance(dst, Pod) else self.world.pods.get(dst)
        if s is None or d is None:
            s_ref = src.key if isinstance(src, Pod) else src
            d_ref = dst.key if isinstance(dst, Pod) else dst
            return self._analyzer.check(s_ref, d_ref, self.port, self.protocol).allowed
        if s is d and not s.is_template:
            if self.world.options.self_exempt:
                return True
        elif self._same_node_host_traffic(s, d):
            return self._analyzer.check(s.key, d.key, self.port, self.protocol).allowed
        return self.class_allowed(self._class_of[s.key], self._class_of[d.key])

    def _same_node_host_traffic(self, s: Pod, d: Pod) -> bool:
        if self.world.options.hostnetwork != "node-traffic" or s.node is None or s.node != d.node:
            return False
        return s.host_network != d.host_network

    def row(self, src: str) -> Iterator[tuple[str, bool]]:
        """Every destination pod with the verdict from ``src``."""
        for d in self.world.pods:
            yield d, self.allowed(src, d)


@dataclass(slots=True)
class _Ctx:
    world: World
    protocol: str
    port: int
    classes: list[PodClass]
    all_bits: int
    governed_bits: int
    tier_subject_bits: int
    ns_bits: dict[str, int]
    ns_classes: dict[str, list[int]]
    named_bits: dict[str, int]
    block_bits: dict[IPBlock, int]
    net_bits: dict[tuple[IPNetwork, ...], int]


def build_matrix(world: World, port: int, protocol: str = "TCP", analyzer: Analyzer | None = None) -> Matrix:
    """Compute the reachability matrix for one destination port and protocol."""
    protocol = protocol.upper()
    if protocol not in PROTOCOLS:
        raise EngineError(f"protocol {protocol!r}: expected one of {', '.join(PROTOCOLS)}")
    analyzer = analyzer or Analyzer(world)
    opts = world.options
    node_traffic = opts.hostnetwork == "node-traffic"

    # Named ports, ipBlocks and tier networks any policy mentions: they split classes.
    names: set[str] = set()
    blocks: set[IPBlock] = set()
    for pol in world.policies:
        for rules in (pol.ingress or (), pol.egress or ()):
            for r in rules:
                names.update(pm.name for pm in r.ports or () if pm.name and pm.protocol == protocol)
                blocks.update(p.ip_block for p in r.peers or () if p.ip_block is not None)
    nets: set[tuple[IPNetwork, ...]] = set()
    node_sels: set[Selector] = set()
    for tp in world.tier_policies:
        for tr in tp.ingress + tp.egress:
            names.update(pm.name for pm in tr.ports or () if pm.name and pm.protocol == protocol)
            for tpeer in tr.peers:
                if tpeer.kind == "networks":
                    nets.add(tuple(tpeer.networks))
                elif tpeer.kind == "nodes":
                    node_sels.add(tpeer.nodes)
    block_list = sorted(blocks, key=str)
    net_list = sorted(nets, key=str)

    def ips_of(pod: Pod) -> tuple[IPAddress, ...]:
        return world.node_ips(pod) if pod.host_network else pod.ips

    groups: dict[tuple[object, ...], list[Pod]] = defaultdict(list)
    sigs: dict[tuple[object, ...], tuple[tuple[int, ...], tuple[int, ...]]] = {}
    for pod in world.pods.values():
        governed = not (pod.host_network and node_traffic)
        named = tuple(sorted(n for n in names if governed and pod.resolve_named_port(n, protocol) == port))
        ips = ips_of(pod)
        bsig: tuple[int, ...] = ()
        if not governed or opts.ipblock_matches_pod_ips:
            if ips or not governed:
                bsig = tuple(i for i, b in enumerate(block_list) if any(b.contains(ip) for ip in ips))
            else:
                # No IP yet (a template): only a block covering the whole family is certain.
                bsig = tuple(i for i, b in enumerate(block_list) if b.cidr.prefixlen == 0 and not b.excepts)
        if ips:
            nsig = tuple(
                i for i, nw in enumerate(net_list) if any(ip.version == n.version and ip in n for ip in ips for n in nw)
            )
        else:
            nsig = tuple(i for i, nw in enumerate(net_list) if any(n.prefixlen == 0 for n in nw))
        key = (
            pod.namespace,
            frozenset(pod.labels.items()),
            pod.host_network,
            named,
            bsig,
            nsig,
            pod.node if (pod.host_network and node_sels) else None,
        )
        groups[key].append(pod)
        sigs[key] = (bsig, nsig)

    classes = [PodClass(i, tuple(members)) for i, members in enumerate(groups.values())]
    class_of = {p.key: c.index for c in classes for p in c.pods}
    n = len(classes)
    all_bits = (1 << n) - 1
    ns_bits: dict[str, int] = defaultdict(int)
    ns_classes: dict[str, list[int]] = defaultdict(list)
    governed_bits = 0
    tier_subject_bits = 0
    named_bits: dict[str, int] = defaultdict(int)
    block_bits: dict[IPBlock, int] = defaultdict(int)
    net_bits: dict[tuple[IPNetwork, ...], int] = defaultdict(int)
    for c in classes:
        rep = c.representative
        bit = 1 << c.index
        governed = not (rep.host_network and node_traffic)
        if governed:
            ns_bits[rep.namespace] |= bit
            ns_classes[rep.namespace].append(c.index)
            governed_bits |= bit
            for nm in names:
                if rep.resolve_named_port(nm, protocol) == port:
                    named_bits[nm] |= bit
        if not rep.host_network:
            tier_subject_bits |= bit
    for gkey, members in zip(groups.keys(), classes, strict=True):
        bit = 1 << members.index
        bsig, nsig = sigs[gkey]
        for i in bsig:
            block_bits[block_list[i]] |= bit
        for i in nsig:
            net_bits[net_list[i]] |= bit
    ctx = _Ctx(
        world,
        protocol,
        port,
        classes,
        all_bits,
        governed_bits,
        tier_subject_bits,
        ns_bits,
        ns_classes,
        named_bits,
        block_bits,
        net_bits,
    )
    rows = _compute_rows(ctx, analyzer)
    return Matrix(world, protocol, port, classes, class_of, rows, analyzer)


def _compute_rows(ctx: _Ctx, analyzer: Analyzer) -> list[int]:
    world = ctx.world
    n = len(ctx.classes)
    all_bits = ctx.all_bits
    reps = [c.representative for c in ctx.classes]
    ns_labels = {name: ns.labels for name, ns in world.namespaces.items()}
    opts = world.options

    # Selector bitsets, memoised: (namespace or None for all, pod selector) -> classes.
    sel_cache: dict[tuple[str, Selector], int] = {}

    def pods_in_ns(ns: str, sel: Selector) -> int:
        key = (ns, sel)
        hit = sel_cache.get(key)
        if hit is None:
            if sel.is_empty:
                hit = ctx.ns_bits.get(ns, 0)
            else:
                hit = 0
                for i in ctx.ns_classes.get(ns, ()):
                    if sel.matches(reps[i].labels):
                        hit |= 1 << i
            sel_cache[key] = hit
        return hit

    nssel_cache: dict[Selector, list[str]] = {}

    def namespaces(sel: Selector) -> list[str]:
        hit = nssel_cache.get(sel)
        if hit is None:
            hit = [ns for ns in ctx.ns_classes if sel.matches(ns_labels[ns])]
            nssel_cache[sel] = hit
        return hit

    peer_cache: dict[tuple[str | None, Peer], int] = {}

    def peer_bits(peer: Peer, policy_ns: str) -> int:
        key = (policy_ns if peer.namespaces is None else None, peer)
        hit = peer_cache.get(key)
        if hit is None:
            if peer.ip_block is not None:
                hit = ctx.block_bits.get(peer.ip_block, 0)
            elif peer.namespaces is None:
                hit = pods_in_ns(policy_ns, peer.pods)
            else:
                hit = 0
                for ns in namespaces(peer.namespaces):
                    hit |= pods_in_ns(ns, peer.pods)
            peer_cache[key] = hit
        return hit

    def rule_peers(peers: tuple[Peer, ...] | None, policy_ns: str) -> int:
        if peers is None:
            return all_bits
        out = 0
        for p in peers:
            out |= peer_bits(p, policy_ns)
        return out

    def port_mask(ports: tuple[PortMatch, ...] | None) -> int:
        """Destination classes on which the ports admit the query (named ports per class)."""
        if ports is None:
            return all_bits
        mask = 0
        for pm in ports:
            if pm.protocol != ctx.protocol:
                continue
            if pm.name is not None:
                mask |= ctx.named_bits.get(pm.name, 0)
            elif pm.start is None:
                return all_bits
            else:
                end = pm.end if (opts.endport_supported and pm.end is not None) else pm.start
                if pm.start <= ctx.port <= end:
                    return all_bits
        return mask

    # ---------------------------------------------------------------- NetworkPolicy tier
    eg_iso = 0
    in_iso = 0
    eg_allow: dict[int, int] = defaultdict(int)  # source class -> destination classes
    ingress_map: dict[int, int] = defaultdict(int)  # source-class set -> destination classes
    for pol in world.policies:
        subj = pods_in_ns(pol.namespace, pol.pod_selector) & ctx.governed_bits
        if not subj:
            continue
        if pol.egress is not None:
            eg_iso |= subj
            union = 0
            for r in pol.egress:
                mask = port_mask(r.ports)
                if mask:
                    union |= rule_peers(r.peers, pol.namespace) & mask
            if union:
                for s in _indices(subj):
                    eg_allow[s] |= union
        if pol.ingress is not None:
            in_iso |= subj
            for r in pol.ingress:
                dsts = subj & port_mask(r.ports)
                if not dsts:
                    continue
                if r.peers is None:
                    ingress_map[all_bits] |= dsts
                    continue
                # Keyed per peer, not per rule: a peer shared by many policies is inverted once.
                for peer in r.peers:
                    sources = peer_bits(peer, pol.namespace)
                    if sources:
                        ingress_map[sources] |= dsts

    np_in = [all_bits & ~in_iso] * n  # per source class: destinations whose ingress allows it
    base = ingress_map.pop(all_bits, 0)
    if base:
        np_in = [row | base for row in np_in]
    for sources, dsts in ingress_map.items():
        for s in _indices(sources):
            np_in[s] |= dsts
    np_eg = [eg_allow.get(s, 0) if (eg_iso >> s) & 1 else all_bits for s in range(n)]

    if not world.tier_policies:
        return [np_eg[s] & np_in[s] for s in range(n)]
    return _with_tiers(ctx, reps, np_eg, np_in, eg_iso, in_iso, port_mask)


def _with_tiers(
    ctx: _Ctx,
    reps: list[Pod],
    np_eg: list[int],
    np_in: list[int],
    eg_iso: int,
    in_iso: int,
    port_mask: Callable[[tuple[PortMatch, ...] | None], int],
) -> list[int]:
    """Admin tier, then NetworkPolicy, then baseline, then default allow, per cell."""
    world = ctx.world
    n = len(ctx.classes)
    all_bits = ctx.all_bits
    ns_labels = {name: ns.labels for name, ns in world.namespaces.items()}
    nodes = world.nodes

    def subject_bits(ns_sel: Selector, pod_sel: Selector) -> int:
        out = 0
        for ns, idx in ctx.ns_classes.items():
            if ns_sel.matches(ns_labels[ns]):
                for i in idx:
                    if pod_sel.matches(reps[i].labels):
                        out |= 1 << i
        return out & ctx.tier_subject_bits

    def tier_peer_bits(p: TierPeer) -> int:
        if p.kind in ("namespaces", "pods"):
            return subject_bits(p.namespaces, p.pods)
        if p.kind == "nodes":
            out = 0
            for c in ctx.classes:
                rep = c.representative
                node = nodes.get(rep.node or "")
                if rep.host_network and node is not None and p.nodes.matches(node.labels):
                    out |= 1 << c.index
            return out
        if p.kind == "networks":
            return ctx.net_bits.get(tuple(p.networks), 0)
        return 0

    def walk(tier: str, direction: str, rest: list[int] | None) -> tuple[list[int], list[int], list[int]]:
        """Process a tier: returns per source class (allowed, denied, passed-or-undecided) cells."""
        allow = [0] * n
        deny = [0] * n
        passed = [0] * n
        und = list(rest) if rest is not None else [all_bits] * n
        for pol in (p for p in world.tier_policies if p.tier == tier):
            rules = pol.egress if direction == "egress" else pol.ingress
            if not rules:
                continue
            subj = subject_bits(pol.subject_namespaces, pol.subject_pods)
            if not subj:
                continue
            for r in rules:
                action = r.action
                if r.fail_closed:
                    if action == "Allow":
                        continue
                    action, peers, mask = "Deny", all_bits, all_bits
                else:
                    peers = 0
                    for p in r.peers:
                        peers |= tier_peer_bits(p)
                    mask = port_mask(r.ports)
                if direction == "egress":
                    cells_for, targets = subj, peers & mask
                else:
                    # Per source class: the destinations (subjects) the rule covers.
                    cells_for, targets = peers, subj & mask
                if not cells_for or not targets:
                    continue
                for s in _indices(cells_for):
                    m = und[s] & targets
                    if not m:
                        continue
                    if action == "Allow":
                        allow[s] |= m
                    elif action == "Deny":
                        deny[s] |= m
                    und[s] &= ~m
                    if action == "Pass":
                        # Passed cells skip the rest of this tier and go to the next one.
                        passed[s] |= m
        return allow, deny, [und[s] | passed[s] for s in range(n)]

    rows: list[int] = []
    a_eg_allow, _a_eg_deny, eg_rest = walk("admin", "egress", None)
    a_in_allow, _a_in_deny, in_rest = walk("admin", "ingress", None)
    # Egress: cells left at a source that NetworkPolicy isolates are decided there; others go on.
    eg_to_base = [0 if (eg_iso >> s) & 1 else eg_rest[s] for s in range(n)]
    _b_eg_allow, b_eg_deny, _ = walk("baseline", "egress", eg_to_base)
    in_to_base = [in_rest[s] & ~in_iso for s in range(n)]
    _b_in_allow, b_in_deny, _ = walk("baseline", "ingress", in_to_base)
    for s in range(n):
        # An egress-isolated source is decided by NetworkPolicy, any other by the baseline tier.
        decided = np_eg[s] if (eg_iso >> s) & 1 else ~b_eg_deny[s]
        eg = a_eg_allow[s] | (eg_rest[s] & decided)
        ing = a_in_allow[s] | (in_rest[s] & in_iso & np_in[s]) | (in_rest[s] & ~in_iso & ~b_in_deny[s])
        rows.append(eg & ing & all_bits)
    return rows
