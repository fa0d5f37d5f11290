"""The class matrix agrees with the exact per-pair evaluator on random small worlds.

The exact evaluator is the oracle (it is what the conformance vectors pin down); the matrix is
the fast path. Worlds mix every feature: selectors with every operator, AND/OR peers, ipBlocks
with except, named/numeric/range ports, all protocols, hostNetwork and template pods, and
admin/baseline tiers with Allow/Deny/Pass.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from stockade.engines.netpol import Analyzer, Options, World, build_matrix

LABEL_KEYS = ("app", "tier", "team")
LABEL_VALUES = ("a", "b", "c")


def _labels(rng: random.Random) -> dict[str, str]:
    return {k: rng.choice(LABEL_VALUES) for k in LABEL_KEYS if rng.random() < 0.6}


def _selector(rng: random.Random) -> dict[str, Any] | None:
    roll = rng.random()
    if roll < 0.3:
        return {}
    if roll < 0.35:
        return None
    sel: dict[str, Any] = {}
    if rng.random() < 0.6:
        sel["matchLabels"] = {rng.choice(LABEL_KEYS): rng.choice(LABEL_VALUES)}
    if rng.random() < 0.5:
        op = rng.choice(("In", "NotIn", "Exists", "DoesNotExist"))
        expr: dict[str, Any] = {"key": rng.choice(LABEL_KEYS), "operator": op}
        if op in ("In", "NotIn"):
            expr["values"] = rng.sample(LABEL_VALUES, rng.randint(1, 2))
        sel["matchExpressions"] = [expr]
    return sel


def _ports(rng: random.Random) -> list[dict[str, Any]] | None:
    if rng.random() < 0.4:
        return None
    out: list[dict[str, Any]] = []
    for _ in range(rng.randint(1, 2)):
        entry: dict[str, Any] = {}
        if rng.random() < 0.7:
            entry["protocol"] = rng.choice(("TCP", "UDP", "SCTP"))
        roll = rng.random()
        if roll < 0.35:
            entry["port"] = rng.choice((80, 81, 53))
        elif roll < 0.55:
            entry["port"] = 79
            entry["endPort"] = rng.choice((80, 81))
        elif roll < 0.85:
            entry["port"] = rng.choice(("http", "metrics", "dns"))
        out.append(entry)
    return out


def _peer(rng: random.Random) -> dict[str, Any]:
    roll = rng.random()
    if roll < 0.2:
        block: dict[str, Any] = {"cidr": rng.choice(("10.0.0.0/16", "10.0.1.0/24", "0.0.0.0/0", "172.18.0.0/24"))}
        if rng.random() < 0.5 and block["cidr"] != "10.0.1.0/24":
            block["except"] = [rng.choice(("10.0.1.0/24", "10.0.0.5/32"))] if block["cidr"] != "172.18.0.0/24" else []
        return {"ipBlock": block}
    peer: dict[str, Any] = {}
    if roll < 0.6:
        peer["podSelector"] = _selector(rng) or {}
    if roll > 0.4:
        peer["namespaceSelector"] = _selector(rng) or {}
    return peer


def _np(rng: random.Random, i: int, namespaces: list[str]) -> dict[str, Any]:
    spec: dict[str, Any] = {"podSelector": _selector(rng)}
    if rng.random() < 0.6:
        spec["policyTypes"] = rng.choice((["Ingress"], ["Egress"], ["Ingress", "Egress"]))
    for direction, key in (("ingress", "from"), ("egress", "to")):
        roll = rng.random()
        if roll < 0.2:
            continue
        if roll < 0.3:
            spec[direction] = []
            continue
        rules = []
        for _ in range(rng.randint(1, 3)):
            rule: dict[str, Any] = {}
            if rng.random() < 0.8:
                rule[key] = [_peer(rng) for _ in range(rng.randint(1, 2))]
            ports = _ports(rng)
            if ports is not None:
                rule["ports"] = ports
            rules.append(rule)
        spec[direction] = rules
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": f"np{i}", "namespace": rng.choice(namespaces)},
        "spec": spec,
    }


def _tier_peer(rng: random.Random, egress: bool) -> dict[str, Any]:
    roll = rng.random()
    if roll < 0.04:
        return {"futurePeerType": {}}  # unknown to this engine: fails closed
    if egress and roll < 0.2:
        return {"networks": [rng.choice(("10.0.0.0/16", "0.0.0.0/0", "172.18.0.2/32"))]}
    if egress and roll < 0.3:
        return {"nodes": _selector(rng) or {}}
    if roll < 0.6:
        return {"namespaces": _selector(rng) or {}}
    return {"pods": {"namespaceSelector": _selector(rng) or {}, "podSelector": _selector(rng) or {}}}


def _tier_ports(rng: random.Random) -> list[dict[str, Any]] | None:
    roll = rng.random()
    if roll < 0.5:
        return None
    if roll < 0.7:
        return [{"portNumber": {"protocol": rng.choice(("TCP", "UDP")), "port": rng.choice((80, 53))}}]
    if roll < 0.85:
        return [{"portRange": {"protocol": "TCP", "start": 79, "end": 81}}]
    return [{"namedPort": rng.choice(("http", "dns"))}]


def _tier(rng: random.Random, i: int, kind: str) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if kind == "AdminNetworkPolicy":
        spec["priority"] = rng.choice((1, 2, 3))
    if rng.random() < 0.5:
        spec["subject"] = {"namespaces": _selector(rng) or {}}
    else:
        spec["subject"] = {"pods": {"namespaceSelector": _selector(rng) or {}, "podSelector": _selector(rng) or {}}}
    actions = ("Allow", "Deny", "Pass") if kind == "AdminNetworkPolicy" else ("Allow", "Deny")
    for direction, key in (("ingress", "from"), ("egress", "to")):
        rules = []
        for j in range(rng.randint(0, 3)):
            rule: dict[str, Any] = {
                "name": f"r{j}",
                "action": rng.choice(actions),
                key: [_tier_peer(rng, direction == "egress") for _ in range(rng.randint(1, 2))],
            }
            ports = _tier_ports(rng)
            if ports is not None:
                rule["ports"] = ports
            rules.append(rule)
        if rules:
            spec[direction] = rules
    return {
        "apiVersion": "policy.networking.k8s.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": f"anp{i}" if kind == "AdminNetworkPolicy" else "default"},
        "spec": spec,
    }


def _cnp(rng: random.Random, i: int) -> dict[str, Any]:
    """A ClusterNetworkPolicy (v1beta1 shape) in either tier."""
    body = _tier(rng, i, "AdminNetworkPolicy")
    spec = body["spec"]
    spec["tier"] = rng.choice(("Admin", "Baseline"))
    for direction in ("ingress", "egress"):
        for rule in spec.get(direction, []):
            rule["action"] = {"Allow": "Accept"}.get(rule["action"], rule["action"])
            ports = rule.pop("ports", None)
            if ports and "portNumber" in ports[0]:
                pn = ports[0]["portNumber"]
                rule["protocols"] = [{pn["protocol"].lower(): {"destinationPort": {"number": pn["port"]}}}]
            elif ports and "namedPort" in ports[0]:
                rule["protocols"] = [{"destinationNamedPort": ports[0]["namedPort"]}]
    return {
        "apiVersion": "policy.networking.k8s.io/v1beta1",
        "kind": "ClusterNetworkPolicy",
        "metadata": {"name": f"cnp{i}"},
        "spec": spec,
    }


def random_world(seed: int, options: Options, tiers: bool) -> World:
    rng = random.Random(seed)
    namespaces = {f"ns{i}": {"labels": _labels(rng)} for i in range(rng.randint(2, 3))}
    nodes = {
        "n1": {"ip": "172.18.0.2", "labels": {"zone": "a"}},
        "n2": {"ip": "172.18.0.3", "labels": {"zone": "b"}},
    }
    pods: dict[str, Any] = {}
    for i in range(rng.randint(4, 8)):
        ns = rng.choice(list(namespaces))
        pod: dict[str, Any] = {"labels": _labels(rng), "node": rng.choice(("n1", "n2"))}
        roll = rng.random()
        if roll < 0.15:
            pod["hostNetwork"] = True
        elif roll < 0.25:
            pod.pop("node")  # a template-like pod: no IP, no node
        else:
            pod["ip"] = rng.choice(("10.0.0.5", f"10.0.1.{i + 10}", f"10.0.2.{i + 10}", f"10.1.0.{i}"))
        pod["ports"] = [
            {"name": n, "port": p, "protocol": proto}
            for n, p, proto in (
                ("http", 80, "TCP"),
                ("http", 81, "TCP"),
                ("metrics", 81, "TCP"),
                ("dns", 53, "UDP"),
            )
            if rng.random() < 0.35
        ]
        pods[f"{ns}/p{i}"] = pod
    policies = [_np(rng, i, list(namespaces)) for i in range(rng.randint(1, 5))]
    if tiers:
        policies += [_tier(rng, i, "AdminNetworkPolicy") for i in range(rng.randint(1, 3))]
        if rng.random() < 0.7:
            policies.append(_tier(rng, 0, "BaselineAdminNetworkPolicy"))
        if rng.random() < 0.5:
            policies.append(_cnp(rng, len(policies)))
    return World.from_spec(nodes=nodes, namespaces=namespaces, pods=pods, policies=policies, options=options)


OPTION_SETS = [
    Options(),
    Options(ipblock_matches_pod_ips=False, hostnetwork="pod-like"),
    Options(self_exempt=False, endport_supported=False, egress_to_own_node=True),
]


@pytest.mark.parametrize("tiers", [False, True])
@pytest.mark.parametrize("opt_index", range(len(OPTION_SETS)))
def test_matrix_matches_exact_evaluator(opt_index: int, tiers: bool) -> None:
    options = OPTION_SETS[opt_index]
    for seed in range(60):
        world = random_world(seed * 7 + opt_index, options, tiers)
        analyzer = Analyzer(world)
        for port, proto in ((80, "TCP"), (81, "TCP"), (53, "UDP"), (80, "SCTP")):
            matrix = build_matrix(world, port, proto, analyzer=analyzer)
            for s in world.pods:
                for d in world.pods:
                    want = analyzer.check(s, d, port, proto).allowed
                    assert matrix.allowed(s, d) == want, (seed, s, d, port, proto, world.skipped)
