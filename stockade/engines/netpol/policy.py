"""Policies normalised the way the API server stores them.

NetworkPolicy defaulting is applied here because a client reading manifests never sees it:
``policyTypes`` defaults to ``[Ingress]`` plus ``Egress`` when ``egress`` is non-empty, and a port
entry without ``protocol`` means TCP. Invalid policies (ones the API server would reject) raise
:class:`PolicyError` so the caller can report and skip them.

AdminNetworkPolicy, BaselineAdminNetworkPolicy (``policy.networking.k8s.io/v1alpha1``) and
ClusterNetworkPolicy (``v1alpha2``/``v1beta1``) share one model: a :class:`TierPolicy` in the
``admin`` or ``baseline`` tier with ordered Allow/Deny/Pass rules.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from stockade.engines.netpol.model import PROTOCOLS, IPAddress, IPNetwork
from stockade.engines.netpol.selectors import EVERYTHING, Selector, SelectorError

Direction = Literal["ingress", "egress"]
Action = Literal["Allow", "Deny", "Pass"]

NETWORKPOLICY_KINDS = {"NetworkPolicy"}
TIER_KINDS = {"AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy"}

_IANA_SVC_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$")


class PolicyError(ValueError):
    """A policy the API server would reject; the message names the field."""


@dataclass(frozen=True, slots=True)
class PortMatch:
    """One port entry: a protocol with all ports, a number or range, or a named port."""

    protocol: str
    start: int | None = None
    """None: every port of the protocol (unless ``name`` is set)."""
    end: int | None = None
    name: str | None = None

    def __str__(self) -> str:
        if self.name is not None:
            return f"{self.protocol}/{self.name}"
        if self.start is None:
            return f"{self.protocol}/*"
        if self.end is not None and self.end != self.start:
            return f"{self.protocol}/{self.start}-{self.end}"
        return f"{self.protocol}/{self.start}"


@dataclass(frozen=True, slots=True)
class IPBlock:
    """A CIDR minus its exceptions."""

    cidr: IPNetwork
    excepts: tuple[IPNetwork, ...] = ()

    def contains(self, ip: IPAddress) -> bool:
        """The IP is in the CIDR and in none of the exceptions."""
        if ip.version != self.cidr.version or ip not in self.cidr:
            return False
        return not any(ip in e for e in self.excepts)

    def __str__(self) -> str:
        ex = f" except {', '.join(map(str, self.excepts))}" if self.excepts else ""
        return f"{self.cidr}{ex}"


@dataclass(frozen=True, slots=True)
class Peer:
    """A NetworkPolicy peer: selectors (``namespaces`` None = the policy's namespace) or an ipBlock."""

    pods: Selector = EVERYTHING
    namespaces: Selector | None = None
    ip_block: IPBlock | None = None

    def describe(self) -> str:
        """Short text for explanations."""
        if self.ip_block is not None:
            return f"ipBlock {self.ip_block}"
        ns = "own namespace" if self.namespaces is None else f"namespaces {self.namespaces}"
        return f"pods {self.pods} in {ns}"


@dataclass(frozen=True, slots=True)
class Rule:
    """One ingress or egress rule. ``peers``/``ports`` None means every peer / every port."""

    index: int
    peers: tuple[Peer, ...] | None
    ports: tuple[PortMatch, ...] | None


@dataclass(frozen=True, slots=True, eq=False)
class NetworkPolicy:
    """A normalised ``networking.k8s.io/v1`` NetworkPolicy.

    ``ingress``/``egress`` is None when the direction is not in ``policyTypes`` (the policy then
    neither isolates nor allows in that direction); an empty tuple isolates and allows nothing.
    """

    namespace: str
    name: str
    pod_selector: Selector
    ingress: tuple[Rule, ...] | None
    egress: tuple[Rule, ...] | None
    raw_policy_types: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        """``namespace/name`` as used in explanations."""
        return f"{self.namespace}/{self.name}"

    def rules(self, direction: Direction) -> tuple[Rule, ...] | None:
        """The rules for a direction, or None when the policy does not cover it."""
        return self.ingress if direction == "ingress" else self.egress


@dataclass(frozen=True, slots=True)
class TierPeer:
    """An admin/baseline peer. ``kind`` is namespaces, pods, nodes, networks, domains or unknown."""

    kind: str
    namespaces: Selector = EVERYTHING
    pods: Selector = EVERYTHING
    nodes: Selector = EVERYTHING
    networks: tuple[IPNetwork, ...] = ()
    domains: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TierRule:
    """An ordered admin/baseline rule; the first matching rule of a policy decides."""

    index: int
    name: str
    action: Action
    peers: tuple[TierPeer, ...]
    ports: tuple[PortMatch, ...] | None
    fail_closed: bool = False
    """A peer of an unknown type: Allow matches nothing, Deny/Pass match everything."""


@dataclass(frozen=True, slots=True, eq=False)
class TierPolicy:
    """An AdminNetworkPolicy, BaselineAdminNetworkPolicy or ClusterNetworkPolicy."""

    kind: str
    name: str
    tier: Literal["admin", "baseline"]
    priority: int
    subject_namespaces: Selector
    subject_pods: Selector
    ingress: tuple[TierRule, ...]
    egress: tuple[TierRule, ...]

    @property
    def ref(self) -> str:
        """``Kind/name`` as used in explanations."""
        return f"{self.kind}/{self.name}"

    def rules(self, direction: Direction) -> tuple[TierRule, ...]:
        """The ordered rules for a direction."""
        return self.ingress if direction == "ingress" else self.egress


# --------------------------------------------------------------------------- NetworkPolicy


def _known(raw: Mapping[str, Any], fields: tuple[str, ...], where: str) -> None:
    """Reject unknown fields, as kubectl's default strict field validation does."""
    for key in raw:
        if key not in fields:
            raise PolicyError(f"{where}: unknown field {str(key)!r}")


def _map(value: Any, where: str) -> Mapping[str, Any]:
    """A mapping field (absent or null reads as empty)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise PolicyError(f"{where}: must be a mapping")
    return value


def _list(value: Any, where: str) -> list[Any]:
    """A list field (absent or null reads as empty)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise PolicyError(f"{where}: must be a list")
    return value


def _entries(raw: Any, where: str, falsy_is_empty: bool = False) -> Iterator[tuple[int, str, Mapping[str, Any]]]:
    """Index, path and mapping of each entry of a list field (absent or null reads as empty).

    ``falsy_is_empty``: a null (or other falsy) entry reads as an empty mapping, as where the API
    decodes the entry into a struct.
    """
    for i, entry in enumerate(_list(raw, where)):
        at = f"{where}[{i}]"
        if falsy_is_empty:
            entry = entry or {}
        if not isinstance(entry, Mapping):
            raise PolicyError(f"{at}: must be a mapping")
        yield i, at, entry


def _sel(raw: Any, where: str) -> Selector:
    try:
        return Selector.parse(raw, where)
    except SelectorError as e:
        raise PolicyError(str(e)) from None


def _network(text: Any, where: str) -> IPNetwork:
    if not isinstance(text, str):
        raise PolicyError(f"{where}: must be a CIDR string")
    addr, slash, prefix = text.partition("/")
    if not slash:
        # ParseCIDR needs the prefix length: a bare address is not a CIDR.
        raise PolicyError(f"{where}: invalid CIDR {text!r} (no prefix length)")
    if "." in addr and ":" not in addr and re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", addr):
        # The API server's sloppy parser reads leading zeros as decimal (010.0.0.0 is 10.0.0.0).
        addr = ".".join(str(int(part)) for part in addr.split("."))
    try:
        # strict=False: the API server accepts host bits (10.0.0.1/24) and masks them.
        return ipaddress.ip_network(f"{addr}/{prefix}", strict=False)
    except ValueError:
        raise PolicyError(f"{where}: invalid CIDR {text!r}") from None


def _port_number(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise PolicyError(f"{where}: must be a port number between 1 and 65535")
    return value


def _named_port(value: str, where: str) -> str:
    if not _IANA_SVC_NAME.match(value) or "--" in value or not re.search(r"[a-z]", value):
        raise PolicyError(f"{where}: {value!r} is not a valid port name (IANA_SVC_NAME)")
    return value


def _protocol(value: Any, where: str) -> str:
    proto = "TCP" if value is None else value
    if proto not in PROTOCOLS:
        raise PolicyError(f"{where}: unsupported protocol {value!r}")
    return str(proto)


def _np_ports(raw: Any, where: str) -> tuple[PortMatch, ...] | None:
    if raw is None or raw == []:
        return None
    out: list[PortMatch] = []
    for _i, at, entry in _entries(raw, where, falsy_is_empty=True):
        _known(entry, ("protocol", "port", "endPort"), at)
        proto = _protocol(entry.get("protocol"), f"{at}.protocol")
        port = entry.get("port")
        end = entry.get("endPort")
        if port is None:
            if end is not None:
                raise PolicyError(f"{at}.endPort: may not be set without a numeric port")
            out.append(PortMatch(proto))
        elif isinstance(port, str):
            # IntOrString: a string is always a name, and "80" is not a valid name.
            if end is not None:
                raise PolicyError(f"{at}.endPort: may not be set with a named port")
            out.append(PortMatch(proto, name=_named_port(port, f"{at}.port")))
        else:
            start = _port_number(port, f"{at}.port")
            if end is None:
                out.append(PortMatch(proto, start, start))
            else:
                stop = _port_number(end, f"{at}.endPort")
                if stop < start:
                    raise PolicyError(f"{at}.endPort: must be greater than or equal to port")
                out.append(PortMatch(proto, start, stop))
    return tuple(out)


def _np_peers(raw: Any, where: str) -> tuple[Peer, ...] | None:
    if raw is None or raw == []:
        return None
    out: list[Peer] = []
    for _i, at, entry in _entries(raw, where):
        _known(entry, ("podSelector", "namespaceSelector", "ipBlock"), at)
        has_pod = "podSelector" in entry and entry["podSelector"] is not None
        has_ns = "namespaceSelector" in entry and entry["namespaceSelector"] is not None
        block = entry.get("ipBlock")
        if block is not None:
            if has_pod or has_ns:
                raise PolicyError(f"{at}: ipBlock may not be combined with podSelector or namespaceSelector")
            if not isinstance(block, Mapping):
                raise PolicyError(f"{at}.ipBlock: must be a mapping")
            _known(block, ("cidr", "except"), f"{at}.ipBlock")
            cidr = _network(block.get("cidr"), f"{at}.ipBlock.cidr")
            excepts: list[IPNetwork] = []
            for j, ex in enumerate(_list(block.get("except"), f"{at}.ipBlock.except")):
                net = _network(ex, f"{at}.ipBlock.except[{j}]")
                if net.version != cidr.version or net.network_address not in cidr or net.prefixlen <= cidr.prefixlen:
                    raise PolicyError(f"{at}.ipBlock.except[{j}]: must be a strict subset of cidr {cidr}")
                excepts.append(net)
            out.append(Peer(ip_block=IPBlock(cidr, tuple(excepts))))
            continue
        if not has_pod and not has_ns:
            raise PolicyError(f"{at}: must specify a peer (podSelector, namespaceSelector or ipBlock)")
        pods = _sel(entry.get("podSelector"), f"{at}.podSelector")
        ns = _sel(entry.get("namespaceSelector"), f"{at}.namespaceSelector") if has_ns else None
        out.append(Peer(pods=pods, namespaces=ns))
    return tuple(out)


def parse_network_policy(body: Mapping[str, Any], namespace: str | None = None) -> NetworkPolicy:
    """Normalise one NetworkPolicy object (as a dict); raises :class:`PolicyError`."""
    md = _map(body.get("metadata"), "metadata")
    name = str(md.get("name") or "")
    ns = str(md.get("namespace") or namespace or "default")
    if not name:
        raise PolicyError("metadata.name: required")
    spec = body.get("spec")
    if spec is None:
        spec = {}
    if not isinstance(spec, Mapping):
        raise PolicyError("spec: must be a mapping")
    _known(spec, ("podSelector", "policyTypes", "ingress", "egress"), "spec")
    subject = _sel(spec.get("podSelector"), "spec.podSelector")
    raw_types = spec.get("policyTypes")
    ingress_raw = spec.get("ingress")
    egress_raw = spec.get("egress")
    if raw_types:
        if not isinstance(raw_types, list) or any(t not in ("Ingress", "Egress") for t in raw_types):
            raise PolicyError("spec.policyTypes: entries must be Ingress or Egress")
        if len(raw_types) > 2:
            # ValidateNetworkPolicySpec counts entries, so a duplicate is fine but a third is not.
            raise PolicyError("spec.policyTypes: may not specify more than two policyTypes")
        types = tuple(dict.fromkeys(str(t) for t in raw_types))
    else:
        # SetDefaults_NetworkPolicy: Ingress always, Egress only when egress rules exist.
        types = ("Ingress", "Egress") if egress_raw else ("Ingress",)

    def rules(raw: Any, direction: str, peer_key: str) -> tuple[Rule, ...]:
        out: list[Rule] = []
        for i, at, r in _entries(raw, f"spec.{direction}", falsy_is_empty=True):
            # A misspelt `from`/`to` would otherwise read as "every peer".
            _known(r, (peer_key, "ports"), at)
            out.append(
                Rule(
                    i,
                    _np_peers(r.get(peer_key), f"{at}.{peer_key}"),
                    _np_ports(r.get("ports"), f"{at}.ports"),
                )
            )
        return tuple(out)

    ingress = rules(ingress_raw, "ingress", "from")
    egress = rules(egress_raw, "egress", "to")
    return NetworkPolicy(
        namespace=ns,
        name=name,
        pod_selector=subject,
        ingress=ingress if "Ingress" in types else None,
        egress=egress if "Egress" in types else None,
        raw_policy_types=tuple(str(t) for t in raw_types or ()),
    )


# --------------------------------------------------------------------------- tiers


def _tier_ports(rule: Mapping[str, Any], where: str) -> tuple[PortMatch, ...] | None:
    out: list[PortMatch] = []
    if "ports" in rule and rule["ports"] is not None:
        # v1alpha1: portNumber {protocol, port} | portRange {protocol, start, end} | namedPort.
        for _i, at, p in _entries(rule["ports"], f"{where}.ports"):
            if len(p) > 1:
                raise PolicyError(f"{at}: exactly one of portNumber, portRange or namedPort must be set")
            if "portNumber" in p:
                pn = _map(p["portNumber"], f"{at}.portNumber")
                num = _port_number(pn.get("port"), f"{at}.portNumber.port")
                out.append(PortMatch(_protocol(pn.get("protocol"), f"{at}.portNumber.protocol"), num, num))
            elif "portRange" in p:
                pr = _map(p["portRange"], f"{at}.portRange")
                lo = _port_number(pr.get("start"), f"{at}.portRange.start")
                hi = _port_number(pr.get("end"), f"{at}.portRange.end")
                if hi <= lo:
                    # CEL rule `self.start < self.end` on the CRD: a one-port range is rejected.
                    raise PolicyError(f"{at}.portRange: start must be less than end")
                out.append(PortMatch(_protocol(pr.get("protocol"), f"{at}.portRange.protocol"), lo, hi))
            elif "namedPort" in p:
                named = str(p["namedPort"])
                # A named port carries no protocol in v1alpha1; it matches the container port's.
                out.extend(PortMatch(proto, name=named) for proto in PROTOCOLS)
            else:
                raise PolicyError(f"{at}: needs portNumber, portRange or namedPort")
        if not out:
            # MinItems=1: `ports: []` is rejected, it does not mean "every port".
            raise PolicyError(f"{where}.ports: must list at least one port (omit it for every port)")
        return tuple(out)
    protocols = rule.get("protocols", rule.get("match"))
    if protocols is None:
        return None
    # v1alpha2/v1beta1: [{tcp: {destinationPort: {number | range}}}, {destinationNamedPort: x}].
    if not isinstance(protocols, list) or not protocols:
        raise PolicyError(f"{where}.protocols: must be a non-empty list")
    for i, p in enumerate(protocols):
        at = f"{where}.protocols[{i}]"
        if not isinstance(p, Mapping):
            raise PolicyError(f"{at}: must be a mapping")
        known = [k for k in ("tcp", "udp", "sctp", "destinationNamedPort", "namedPort") if k in p]
        if len(known) != 1 or len(p) != 1:
            # Exactly one field (MinProperties/MaxProperties 1); an empty entry must not read as "all ports".
            raise PolicyError(f"{at}: exactly one of tcp, udp, sctp or destinationNamedPort must be set")
        named = p.get("destinationNamedPort", p.get("namedPort"))
        if named:
            out.extend(PortMatch(proto, name=str(named)) for proto in PROTOCOLS)
            continue
        for key, proto in (("tcp", "TCP"), ("udp", "UDP"), ("sctp", "SCTP")):
            if key not in p:
                continue
            entries = p[key]
            for e in entries if isinstance(entries, list) else [entries]:
                e = _map(e, f"{at}.{key}")
                if not e:
                    raise PolicyError(f"{at}.{key}: must set destinationPort")
                dp = _map(e.get("destinationPort", e.get("port")), f"{at}.{key}.destinationPort")
                if not dp:
                    out.append(PortMatch(proto))
                elif "number" in dp:
                    n = _port_number(dp["number"], f"{at}.{key}.destinationPort.number")
                    out.append(PortMatch(proto, n, n))
                else:
                    rng = _map(dp.get("range", dp.get("portRange")), f"{at}.{key}.destinationPort.range")
                    lo = _port_number(rng.get("start"), f"{at}.{key}.destinationPort.range.start")
                    hi = _port_number(rng.get("end"), f"{at}.{key}.destinationPort.range.end")
                    if hi <= lo:
                        raise PolicyError(f"{at}.{key}.destinationPort.range: start must be less than end")
                    out.append(PortMatch(proto, lo, hi))
    return tuple(out) or None


class _RejectedPeer(PolicyError):
    """A peer the CRD schema rejects (the whole policy is invalid), as opposed to an unknown shape."""


# The peer types each direction's schema defines (v1alpha1 and v1alpha2 alike).
_PEER_TYPES = {
    "ingress": ("namespaces", "pods"),
    "egress": ("namespaces", "pods", "nodes", "networks", "domainNames"),
}


def _tier_peer(raw: Any, where: str, direction: str, kind: str) -> TierPeer:
    if isinstance(raw, Mapping):
        wrong = [k for k in raw if k in _PEER_TYPES["egress"] and k not in _PEER_TYPES[direction]]
        if wrong:
            raise PolicyError(f"{where}: {wrong[0]} is not a peer type of {direction} rules")
    try:
        return _tier_peer_strict(raw, where, kind)
    except _RejectedPeer:
        raise
    except PolicyError:
        # A peer this engine cannot read (an older or newer CRD shape): fail closed, like an unknown type.
        return TierPeer("unknown")


def _tier_peer_strict(raw: Any, where: str, kind: str) -> TierPeer:
    if not isinstance(raw, Mapping):
        return TierPeer("unknown")
    known = [k for k in ("namespaces", "pods", "nodes", "networks", "domainNames") if k in raw]
    if len(known) != 1 or len(raw) != 1:
        # Exactly one field must be set; anything else is a newer CRD we do not know: fail closed.
        return TierPeer("unknown")
    key = known[0]
    value = raw[key]
    if key == "namespaces":
        return TierPeer("namespaces", namespaces=_sel(value, f"{where}.namespaces"))
    if key == "pods":
        value = _map(value, f"{where}.pods")
        _require_pod_selectors(value, f"{where}.pods", kind, _RejectedPeer)
        return TierPeer(
            "pods",
            namespaces=_sel(value.get("namespaceSelector"), f"{where}.pods.namespaceSelector"),
            pods=_sel(value.get("podSelector"), f"{where}.pods.podSelector"),
        )
    if key == "nodes":
        return TierPeer("nodes", nodes=_sel(value, f"{where}.nodes"))
    if key == "networks":
        if value == []:
            raise _RejectedPeer(f"{where}.networks: must list at least one CIDR")
        try:
            nets = tuple(_network(n, f"{where}.networks[{i}]") for i, n in enumerate(_list(value, f"{where}.networks")))
        except PolicyError as e:
            # v1alpha1 leaves CIDR parsing to implementations (fail closed); the CNP schema rejects it.
            if kind.startswith("ClusterNetworkPolicy"):
                raise _RejectedPeer(str(e)) from None
            raise
        for i, text in enumerate(value):
            if ":" in text and "." in text:
                # CEL on CIDR: an IPv4 address embedded in IPv6 is not supported.
                raise _RejectedPeer(f"{where}.networks[{i}]: {text!r} mixes IPv4 and IPv6")
        if kind == "ClusterNetworkPolicy":
            for i, (text, net) in enumerate(zip(value, nets, strict=True)):
                # v1beta1 CEL `isCIDR(self) && cidr(self) == cidr(self).masked()`: host bits (and
                # leading zeros) are rejected, not masked (v1alpha2 only asked for isCIDR).
                try:
                    ipaddress.ip_network(text, strict=True)
                except ValueError:
                    raise _RejectedPeer(f"{where}.networks[{i}]: {text!r} is not a masked CIDR (use {net})") from None
        return TierPeer("networks", networks=nets)
    domains = tuple(str(d) for d in _list(value, f"{where}.domainNames"))
    if not domains:
        raise _RejectedPeer(f"{where}.domainNames: must list at least one domain name")
    return TierPeer("domains", domains=domains)


def _require_pod_selectors(value: Mapping[str, Any], where: str, kind: str, error: type[PolicyError]) -> None:
    """The required selectors of a namespaced-pods subject or peer (missing is not "everything").

    v1alpha1 (ANP, BANP) requires both; ClusterNetworkPolicy makes namespaceSelector optional.
    """
    fields = ("podSelector",) if kind.startswith("ClusterNetworkPolicy") else ("namespaceSelector", "podSelector")
    for field in fields:
        if value.get(field) is None:
            raise error(f"{where}.{field}: required")


_ACTIONS: dict[str, Action] = {"Allow": "Allow", "Accept": "Allow", "Deny": "Deny", "Pass": "Pass"}
# The enum of each kind: BANP cannot Pass; ClusterNetworkPolicy renamed Allow to Accept.
_KIND_ACTIONS = {
    "AdminNetworkPolicy": ("Allow", "Deny", "Pass"),
    "BaselineAdminNetworkPolicy": ("Allow", "Deny"),
    "ClusterNetworkPolicy": ("Accept", "Deny", "Pass"),
}


def parse_tier_policy(body: Mapping[str, Any]) -> TierPolicy:
    """Normalise an ANP, BANP or CNP object (as a dict); raises :class:`PolicyError`."""
    kind = str(body.get("kind"))
    # The schema a peer is checked against: ClusterNetworkPolicy v1alpha2 differs from v1beta1 in CIDRs.
    schema = kind
    if kind == "ClusterNetworkPolicy" and str(body.get("apiVersion", "")).endswith("/v1alpha2"):
        schema = "ClusterNetworkPolicy/v1alpha2"
    md = _map(body.get("metadata"), "metadata")
    name = str(md.get("name") or "")
    spec = body.get("spec") or {}
    if not isinstance(spec, Mapping):
        raise PolicyError("spec: must be a mapping")
    if kind == "AdminNetworkPolicy":
        tier: Literal["admin", "baseline"] = "admin"
        priority = spec.get("priority")
        if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 1000:
            raise PolicyError("spec.priority: must be an integer from 0 to 1000")
    elif kind == "BaselineAdminNetworkPolicy":
        if name != "default":
            raise PolicyError("metadata.name: a BaselineAdminNetworkPolicy must be named 'default'")
        # The singleton BANP is evaluated after any Baseline ClusterNetworkPolicy (no order is defined).
        tier, priority = "baseline", 1001
    elif kind == "ClusterNetworkPolicy":
        t = spec.get("tier")
        if t not in ("Admin", "Baseline"):
            raise PolicyError("spec.tier: must be Admin or Baseline")
        tier = "admin" if t == "Admin" else "baseline"
        priority = spec.get("priority")
        if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 1000:
            raise PolicyError("spec.priority: must be an integer from 0 to 1000")
    else:
        raise PolicyError(f"kind {kind!r} is not a tiered network policy")
    subject = spec.get("subject") or {}
    if not isinstance(subject, Mapping) or len([k for k in ("namespaces", "pods") if k in subject]) != 1:
        raise PolicyError("spec.subject: exactly one of namespaces or pods must be set")
    if "namespaces" in subject:
        sub_ns, sub_pods = _sel(subject["namespaces"], "spec.subject.namespaces"), EVERYTHING
    else:
        sp = _map(subject["pods"], "spec.subject.pods")
        _require_pod_selectors(sp, "spec.subject.pods", schema, PolicyError)
        sub_ns = _sel(sp.get("namespaceSelector"), "spec.subject.pods.namespaceSelector")
        sub_pods = _sel(sp.get("podSelector"), "spec.subject.pods.podSelector")

    def rules(direction: str, peer_key: str) -> tuple[TierRule, ...]:
        out: list[TierRule] = []
        for i, at, r in _entries(spec.get(direction) or [], f"spec.{direction}"):
            raw_action = str(r.get("action"))
            action = _ACTIONS.get(raw_action) if raw_action in _KIND_ACTIONS[kind] else None
            if action is None:
                allowed = ", ".join(_KIND_ACTIONS[kind])
                raise PolicyError(f"{at}.action: {r.get('action')!r} is not a {kind} action ({allowed})")
            peers_raw = r.get(peer_key) or []
            if not isinstance(peers_raw, list) or not peers_raw:
                raise PolicyError(f"{at}.{peer_key}: must list at least one peer")
            peers = tuple(_tier_peer(p, f"{at}.{peer_key}[{j}]", direction, schema) for j, p in enumerate(peers_raw))
            if action == "Deny" and any(p.kind == "domains" for p in peers):
                # FQDN peers are for allowlists: every API revision refuses them in a Deny rule.
                raise PolicyError(f"{at}.{peer_key}: domainNames peers cannot be used with a Deny action")
            ports = _tier_ports(r, at)
            if any(pm.name for pm in ports or ()) and any(p.kind in ("networks", "nodes", "domains") for p in peers):
                # CEL on the egress rule: those peers have no named ports to resolve.
                raise PolicyError(f"{at}: named ports cannot be used with networks, nodes or domainNames peers")
            out.append(
                TierRule(
                    index=i,
                    name=str(r.get("name") or ""),
                    action=action,
                    peers=peers,
                    ports=ports,
                    fail_closed=any(p.kind == "unknown" for p in peers),
                )
            )
        return tuple(out)

    return TierPolicy(
        kind=kind,
        name=name,
        tier=tier,
        priority=int(priority),
        subject_namespaces=sub_ns,
        subject_pods=sub_pods,
        ingress=rules("ingress", "from"),
        egress=rules("egress", "to"),
    )
