"""Build a :class:`World` from a loaded inventory (manifests or a cluster dump).

Pods come from Pod objects and from every pod template the shared loader finds (Deployments,
StatefulSets, Jobs, ML custom resources ...). A workload whose real pods are also present (a
cluster dump has both: found through owner references, or a running pod carrying every label of
the template) is represented by its pods only, and its name becomes an alias of one of them.
Pods that finished (``Succeeded``/``Failed``) hold no IP and are left out.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from stockade.engines.netpol.model import ContainerPort, IPAddress, Namespace, Node, Options, Pod
from stockade.engines.netpol.policy import NETWORKPOLICY_KINDS, TIER_KINDS
from stockade.engines.netpol.world import World
from stockade.loading.objects import Inventory, K8sObject

_HASH_SUFFIX = re.compile(r"^(?P<base>.+)-[a-z0-9]{5,10}$")


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _ips(values: Any) -> tuple[IPAddress, ...]:
    out: list[IPAddress] = []
    for v in values:
        try:
            ip = ipaddress.ip_address(str(v).strip())
        except ValueError:
            continue
        if ip not in out:
            out.append(ip)
    return tuple(out)


def container_ports(spec: Mapping[str, Any]) -> tuple[ContainerPort, ...]:
    """Named container ports of a pod spec (what named policy ports resolve to)."""
    out: list[ContainerPort] = []
    containers = list(_l(spec.get("containers")))
    # Restartable init containers (sidecars) run for the pod's lifetime and may serve ports.
    containers += [
        c for c in _l(spec.get("initContainers")) if isinstance(c, Mapping) and c.get("restartPolicy") == "Always"
    ]
    for c in containers:
        if not isinstance(c, Mapping):
            continue
        for p in _l(c.get("ports")):
            if not isinstance(p, Mapping) or not isinstance(p.get("containerPort"), int):
                continue
            out.append(
                ContainerPort(str(p.get("name") or ""), int(p["containerPort"]), str(p.get("protocol") or "TCP"))
            )
    return tuple(out)


def _labels(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): ("" if v is None else str(v).lower() if isinstance(v, bool) else str(v)) for k, v in value.items()}


def world_from_inventory(inventory: Inventory, options: Options | None = None) -> World:
    """Namespaces, nodes, pods and policies of an inventory as a :class:`World`."""
    from stockade.loading.podspecs import find_pod_specs

    namespaces = [Namespace(o.name, _labels(o.labels)) for o in inventory.kinds("Namespace")]
    nodes: list[Node] = []
    for o in inventory.kinds("Node"):
        status = _m(o.body.get("status"))
        addrs = [
            a.get("address")
            for a in _l(status.get("addresses"))
            if isinstance(a, Mapping) and a.get("type") in ("InternalIP", "ExternalIP")
        ]
        nodes.append(Node(o.name, _ips(addrs), _labels(o.labels)))

    # Owner chains: which workloads have real pods in the inventory.
    owners: dict[tuple[str, str, str], tuple[str, str]] = {}
    for o in inventory.kinds("ReplicaSet", "Job"):
        for ref in _l(o.metadata.get("ownerReferences")):
            if isinstance(ref, Mapping) and ref.get("controller", True):
                owners[(o.namespace or "default", o.kind, o.name)] = (
                    str(ref.get("kind")),
                    str(ref.get("name")),
                )
    known = {(o.namespace or "default", o.kind, o.name) for o in inventory}

    pods: list[Pod] = []
    sources: dict[str, Any] = {}
    owned: dict[tuple[str, str, str], str] = {}
    templates: list[tuple[Pod, K8sObject, str]] = []
    for obj in inventory:
        for ref in find_pod_specs(obj):
            spec = ref.spec
            ns = obj.namespace or "default"
            host = bool(spec.get("hostNetwork"))
            node = spec.get("nodeName") if isinstance(spec.get("nodeName"), str) else None
            ports = container_ports(spec)
            if not ref.is_template:
                status = _m(obj.body.get("status"))
                if status.get("phase") in ("Succeeded", "Failed"):
                    continue
                ips = _ips(
                    [p.get("ip") for p in _l(status.get("podIPs")) if isinstance(p, Mapping)]
                    or ([status["podIP"]] if status.get("podIP") else [])
                )
                pod = Pod(ns, obj.name, _labels(ref.labels), ips, node, ports, host)
                pods.append(pod)
                sources[pod.key] = (obj, ref.path)
                for owner in _owner_chain(obj, ns, owners, known):
                    owned.setdefault(owner, pod.key)
            else:
                pod = Pod(ns, obj.name, _labels(ref.labels), (), node, ports, host, kind=obj.kind, role=ref.role)
                templates.append((pod, obj, ref.path))
    aliases: dict[str, str] = {}
    taken = {p.key for p in pods}
    kept: list[tuple[Pod, K8sObject, str]] = []
    for pod, obj, path in templates:
        real = owned.get((pod.namespace, pod.kind, pod.name)) or _labelled_like(pod, pods)
        if real is not None:
            aliases[pod.key] = real
            aliases[f"{pod.namespace}/{pod.kind}/{pod.name}"] = real
            continue
        kept.append((pod, obj, path))
    counts = Counter(p.key for p, _, _ in kept)
    for pod, obj, path in kept:
        if pod.key in taken or counts[pod.key] > 1:
            # Two workloads (or a Pod and a workload) share a name: keep both, keyed by kind.
            pod = replace(pod, qualified=True)
        pods.append(pod)
        sources[pod.key] = (obj, path)

    policy_objs = [o for o in inventory if o.kind in NETWORKPOLICY_KINDS | TIER_KINDS]
    bodies = []
    for o in policy_objs:
        body = dict(o.body)
        if o.kind in NETWORKPOLICY_KINDS:
            md = dict(_m(body.get("metadata")))
            md.setdefault("namespace", o.namespace or "default")
            body["metadata"] = md
        bodies.append(body)
    world = World.from_objects(bodies, namespaces=namespaces, pods=pods, nodes=nodes, options=options)
    world.aliases.update(aliases)
    world.sources.update(sources)
    for o in policy_objs:
        ref = f"{o.namespace or 'default'}/{o.name}" if o.kind in NETWORKPOLICY_KINDS else f"{o.kind}/{o.name}"
        world.policy_sources[ref] = o
    return world


def _labelled_like(template: Pod, real: list[Pod]) -> str | None:
    """A running pod that carries every label of a workload template (operators such as KServe or
    the training operator create pods through intermediate objects a dump may name differently)."""
    if not template.labels:
        return None
    want = template.labels.items()
    for pod in real:
        if pod.namespace == template.namespace and want <= pod.labels.items():
            return pod.key
    return None


def _owner_chain(
    obj: K8sObject,
    ns: str,
    owners: dict[tuple[str, str, str], tuple[str, str]],
    known: set[tuple[str, str, str]],
) -> list[tuple[str, str, str]]:
    chain: list[tuple[str, str, str]] = []
    refs = [r for r in _l(obj.metadata.get("ownerReferences")) if isinstance(r, Mapping)]
    for r in refs[:1]:
        kind, name = str(r.get("kind")), str(r.get("name"))
        for _ in range(4):
            chain.append((ns, kind, name))
            nxt = owners.get((ns, kind, name))
            if nxt is None and kind in ("ReplicaSet", "Job"):
                # The ReplicaSet/Job itself is not in the dump: infer Deployment/CronJob from its name.
                m = _HASH_SUFFIX.match(name)
                parent = "Deployment" if kind == "ReplicaSet" else "CronJob"
                if m and (ns, parent, m.group("base")) in known:
                    nxt = (parent, m.group("base"))
            if nxt is None:
                break
            kind, name = nxt
    return chain
