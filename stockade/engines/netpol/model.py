"""The cluster as the policy model sees it: namespaces, pods, nodes, and evaluation options.

Pods come from real Pod objects and from workload templates (a Deployment stands for its
pods). A template pod has no IP and usually no node; the engine says so rather than guessing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

PROTOCOLS = ("TCP", "UDP", "SCTP")
NS_NAME_LABEL = "kubernetes.io/metadata.name"


@dataclass(frozen=True, slots=True)
class Options:
    """Implementation-defined behaviours (upstream e2e defaults) as explicit switches."""

    self_exempt: bool = True
    """A pod connecting to its own IP is always allowed ("a pod cannot block access to itself")."""
    ipblock_matches_pod_ips: bool = True
    """ipBlock CIDRs also match pod IPs (upstream e2e; Cilium and np-guard do not)."""
    hostnetwork: Literal["node-traffic", "pod-like"] = "node-traffic"
    """hostNetwork pods: node traffic (common implementation) or treated like other pods."""
    egress_to_own_node: bool = False
    """Also exempt egress from a pod to its own node (the docs' intro; not the normative text)."""
    endport_supported: bool = True
    """When False, a rule with endPort degrades to its single ``port`` (older CNIs)."""


SWITCHES = ("self_exempt", "ipblock_matches_pod_ips", "egress_to_own_node", "endport_supported")
SECTION_KEYS = (*SWITCHES, "hostnetwork", "sensitive_labels", "sensitive_label", "ignore_namespaces")
"""Every key of the ``netpol:`` configuration section (engine switches and scan settings)."""


def option_overrides(section: Mapping[str, Any], source: str = "<config>") -> dict[str, Any]:
    """The :class:`Options` fields a ``netpol:`` configuration section sets (validated).

    Raises :class:`~stockade.errors.ConfigError` naming the key.
    """
    from stockade.errors import ConfigError

    # A misspelt switch must not silently leave the default in force.
    unknown = sorted(str(k) for k in section if k not in SECTION_KEYS)
    if unknown:
        raise ConfigError(f"{source}: netpol: unknown key {', '.join(unknown)} (known: {', '.join(SECTION_KEYS)})")
    out: dict[str, Any] = {}
    for key in SWITCHES:
        if key in section:
            if not isinstance(section[key], bool):
                raise ConfigError(f"{source}: netpol.{key} must be true or false")
            out[key] = section[key]
    if "hostnetwork" in section:
        if section["hostnetwork"] not in ("node-traffic", "pod-like"):
            raise ConfigError(f"{source}: netpol.hostnetwork must be node-traffic or pod-like")
        out["hostnetwork"] = section["hostnetwork"]
    return out


@dataclass(frozen=True, slots=True)
class ContainerPort:
    """A container port a named policy port can resolve to."""

    name: str
    port: int
    protocol: str = "TCP"


@dataclass(frozen=True, slots=True, eq=False)
class Namespace:
    """A namespace and its labels (including the automatic ``kubernetes.io/metadata.name``)."""

    name: str
    labels: Mapping[str, str]


@dataclass(frozen=True, slots=True, eq=False)
class Node:
    """A node: its addresses and labels."""

    name: str
    ips: tuple[IPAddress, ...]
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, eq=False)
class Pod:
    """A pod, or a workload standing for its pods (``kind`` != ``Pod``)."""

    namespace: str
    name: str
    labels: Mapping[str, str]
    ips: tuple[IPAddress, ...] = ()
    node: str | None = None
    ports: tuple[ContainerPort, ...] = ()
    host_network: bool = False
    kind: str = "Pod"
    role: str = ""
    qualified: bool = False
    """Name the kind in the key (``ns/Kind/name``): another pod or workload has the same name."""

    @property
    def key(self) -> str:
        """``namespace/name`` (with ``:role`` for a workload with several pod templates)."""
        kind = f"{self.kind}/" if self.qualified else ""
        return f"{self.namespace}/{kind}{self.name}" + (f":{self.role}" if self.role else "")

    @property
    def is_template(self) -> bool:
        """True for a workload template (no concrete IP or node)."""
        return self.kind != "Pod"

    def resolve_named_port(self, name: str, protocol: str) -> int | None:
        """The container port number a named port means on this pod, if any."""
        for cp in self.ports:
            if cp.name == name and cp.protocol == protocol:
                return cp.port
        return None


EndpointKind = Literal["pod", "node", "ip"]


@dataclass(frozen=True, slots=True, eq=False)
class Endpoint:
    """One end of a connection: a pod (or workload), a node, or any other IP address."""

    kind: EndpointKind
    pod: Pod | None = None
    node: Node | None = None
    ip: IPAddress | None = None

    def __str__(self) -> str:
        if self.pod is not None:
            return self.pod.key
        if self.node is not None:
            return f"node/{self.node.name}"
        return f"ip:{self.ip}"
