"""Benchmark the netpol engine on a cluster shaped like a published production dump.

npinaeva/k8s-netpol-scale (yaml-analysis/README.md): 5,413 pods, 604 namespaces, 13,678
NetworkPolicies of which 3,559 have no rules, 15,423 peers, a median policy selecting about six
local pods, and a few peers selecting over 3,500 pods. This script generates a seeded cluster of
that shape and reports:

* the time to build the full pod-to-pod matrix for one port (target < 10 s on one core);
* the time to answer one ``check`` after loading, cold and warm (target < 50 ms);
* a baseline measured in the same process: the naive per-pair evaluator on a sample of pairs,
  extrapolated to every ordered pair.

Run: ``.venv/bin/python bench/bench_netpol.py [--seed N] [--pods N] [--namespaces N] [--policies N]``
"""

from __future__ import annotations

import argparse
import ipaddress
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stockade.engines.netpol import Analyzer, ContainerPort, Namespace, Node, Pod, World, build_matrix

TEAMS = 40


def generate(seed: int, n_pods: int, n_namespaces: int, n_pol: int) -> World:
    """A seeded cluster: ``n_namespaces`` including kube-system (with two CoreDNS pods)."""
    n_ns = n_namespaces - 1
    rng = random.Random(seed)
    nodes = [Node(f"node-{i}", (ipaddress.ip_address(f"172.20.{i // 250}.{i % 250 + 1}"),)) for i in range(120)]
    namespaces = []
    for i in range(n_ns):
        env = rng.choices(("prod", "staging", "dev"), (66, 20, 14))[0]
        labels = {"team": f"team-{i % TEAMS}", "env": env}
        if i < 4:
            labels["purpose"] = "monitoring"
        namespaces.append(Namespace(f"ns-{i:03d}", labels))
    namespaces.append(Namespace("kube-system", {}))
    pods: list[Pod] = []
    apps_by_ns: dict[str, list[str]] = {}
    ip = int(ipaddress.ip_address("10.128.0.10"))
    per_ns = [1] * n_ns
    for _ in range(n_pods - n_ns - 2):
        per_ns[min(int(rng.paretovariate(1.2)) - 1 + rng.randrange(n_ns), n_ns - 1)] += 1
    for i, ns in enumerate(namespaces[:n_ns]):
        apps: list[str] = []
        left = per_ns[i]
        while left > 0:
            app = f"app-{len(apps)}"
            apps.append(app)
            replicas = min(left, rng.choice((1, 1, 2, 3, 3, 5)))
            tier = rng.choice(("web", "api", "db", "worker"))
            h = f"{rng.getrandbits(32):08x}"
            ports = (
                ContainerPort("http", rng.choice((8080, 8080, 8000, 80))),
                ContainerPort("metrics", 9090),
            )
            for r in range(replicas):
                labels = {"app": app, "tier": tier, "pod-template-hash": h}
                node = rng.choice(nodes)
                pods.append(Pod(ns.name, f"{app}-{h[:5]}-{r}", labels, (ipaddress.ip_address(ip),), node.name, ports))
                ip += 1
            left -= replicas
        apps_by_ns[ns.name] = apps
    for r in range(2):
        pods.append(
            Pod(
                "kube-system",
                f"coredns-{r}",
                {"k8s-app": "kube-dns"},
                (ipaddress.ip_address(ip + r),),
                "node-0",
                (ContainerPort("dns", 53, "UDP"), ContainerPort("dns-tcp", 53, "TCP")),
            )
        )

    policies: list[dict[str, Any]] = []

    def pol(ns: str, name: str, spec: dict[str, Any]) -> None:
        policies.append({"kind": "NetworkPolicy", "metadata": {"name": name, "namespace": ns}, "spec": spec})

    empty_target = round(n_pol * 3559 / 13678)
    for ns in namespaces[:n_ns]:
        pol(ns.name, "default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
    while len(policies) < empty_target:
        ns = rng.choice(namespaces[:n_ns])
        app = rng.choice(apps_by_ns[ns.name])
        pol(
            ns.name,
            f"deny-{app}-{len(policies)}",
            {"podSelector": {"matchLabels": {"app": app}}, "policyTypes": ["Ingress"]},
        )
    kinds = ("same-ns", "monitoring", "team", "prod-all", "dns", "internet", "any-ns-app", "cidr")
    while len(policies) < n_pol:
        ns = rng.choice(namespaces[:n_ns])
        app = rng.choice(apps_by_ns[ns.name])
        kind = rng.choices(kinds, (30, 15, 15, 3, 12, 10, 10, 5))[0]
        sel = {"matchLabels": {"app": app}}
        name = f"{kind}-{app}-{len(policies)}"
        if kind == "same-ns":
            peers = [{"podSelector": {"matchLabels": {"app": rng.choice(apps_by_ns[ns.name])}}}]
            if rng.random() < 0.8:
                peers.append(
                    {"podSelector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]}]}}
                )
            pol(ns.name, name, {"podSelector": sel, "ingress": [{"from": peers, "ports": [{"port": "http"}]}]})
        elif kind == "monitoring":
            mon = [{"namespaceSelector": {"matchLabels": {"purpose": "monitoring"}}}]
            if rng.random() < 0.5:
                mon.append({"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}})
            pol(ns.name, name, {"podSelector": {}, "ingress": [{"from": mon, "ports": [{"port": "metrics"}]}]})
        elif kind == "team":
            team = ns.labels["team"]
            team_peers: list[dict[str, Any]] = [
                {
                    "namespaceSelector": {"matchLabels": {"team": team}},
                    "podSelector": {"matchLabels": {"tier": "web"}},
                }
            ]
            if rng.random() < 0.7:
                team_peers.append({"podSelector": {"matchLabels": {"tier": rng.choice(("api", "worker"))}}})
            pol(ns.name, name, {"podSelector": sel, "ingress": [{"from": team_peers}]})
        elif kind == "prod-all":
            pol(
                ns.name,
                name,
                {
                    "podSelector": sel,
                    "ingress": [
                        {
                            "from": [{"namespaceSelector": {"matchLabels": {"env": "prod"}}}],
                            "ports": [{"port": 8080}],
                        }
                    ],
                },
            )
        elif kind == "dns":
            pol(
                ns.name,
                name,
                {
                    "podSelector": {},
                    "policyTypes": ["Egress"],
                    "egress": [
                        {
                            "to": [
                                {
                                    "namespaceSelector": {
                                        "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                                    },
                                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                                }
                            ],
                            "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
                        }
                    ],
                },
            )
        elif kind == "internet":
            pol(
                ns.name,
                name,
                {
                    "podSelector": sel,
                    "policyTypes": ["Egress"],
                    "egress": [
                        {
                            "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}],
                            "ports": [{"port": 443}],
                        }
                    ],
                },
            )
        elif kind == "any-ns-app":
            pol(
                ns.name,
                name,
                {
                    "podSelector": sel,
                    "policyTypes": ["Egress"],
                    "egress": [
                        {
                            "to": [
                                {
                                    "namespaceSelector": {},
                                    "podSelector": {"matchLabels": {"tier": rng.choice(("api", "db"))}},
                                }
                            ],
                            "ports": [{"port": 8000, "endPort": 8100}],
                        }
                    ],
                },
            )
        else:
            base = rng.randrange(128, 140)
            pol(
                ns.name,
                name,
                {
                    "podSelector": sel,
                    "ingress": [
                        {"from": [{"ipBlock": {"cidr": f"10.{base}.0.0/16", "except": [f"10.{base}.1.0/24"]}}]}
                    ],
                },
            )
    return World.from_objects(policies, namespaces=namespaces, pods=pods, nodes=nodes)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pods", type=int, default=5413)
    ap.add_argument("--namespaces", type=int, default=604)
    ap.add_argument("--policies", type=int, default=13678)
    ap.add_argument("--baseline-pairs", type=int, default=3000)
    args = ap.parse_args()

    t0 = time.perf_counter()
    world = generate(args.seed, args.pods, args.namespaces, args.policies)
    t_gen = time.perf_counter() - t0
    peers = sum(len(r.peers or ()) for p in world.policies for rs in (p.ingress or (), p.egress or ()) for r in rs)
    print(
        f"cluster: {len(world.pods)} pods, {len(world.namespaces)} namespaces, {len(world.policies)} "
        f"NetworkPolicies ({peers} peers), {len(world.skipped)} rejected; generated in {t_gen:.2f} s"
    )

    t0 = time.perf_counter()
    matrix = build_matrix(world, 8080, "TCP")
    t_matrix = time.perf_counter() - t0
    print(
        f"matrix TCP/8080: {t_matrix:.2f} s  ({len(matrix.classes)} classes for {len(world.pods)} pods, "
        f"{len(world.pods) ** 2:,} ordered pairs)  target < 10 s"
    )

    rng = random.Random(args.seed + 1)
    keys = list(world.pods)
    t0 = time.perf_counter()
    cold = Analyzer(world)
    v = cold.check(rng.choice(keys), rng.choice(keys), 8080, "TCP")
    t_cold = time.perf_counter() - t0
    times = []
    warm = Analyzer(world)
    for _ in range(200):
        s, d = rng.choice(keys), rng.choice(keys)
        t0 = time.perf_counter()
        warm.check(s, d, 8080, "TCP")
        times.append(time.perf_counter() - t0)
    print(
        f"single check: cold {t_cold * 1000:.2f} ms (new analyzer), "
        f"median {statistics.median(times) * 1000:.3f} ms, "
        f"max {max(times) * 1000:.2f} ms over 200 random pairs  target < 50 ms  (sample verdict: {v.allowed})"
    )

    # Baseline: the exact per-pair evaluator over every pair, extrapolated from a sample.
    pairs = [(rng.choice(keys), rng.choice(keys)) for _ in range(args.baseline_pairs)]
    base = Analyzer(world)
    t0 = time.perf_counter()
    mismatches = 0
    for s, d in pairs:
        if base.check(s, d, 8080, "TCP").allowed != matrix.allowed(s, d):
            mismatches += 1
    per_pair = (time.perf_counter() - t0) / len(pairs)
    total = per_pair * len(keys) ** 2
    print(
        f"baseline (pairwise evaluation): {per_pair * 1e6:.1f} us/pair -> {total:.0f} s for the full matrix "
        f"({total / t_matrix:.0f}x slower); {mismatches} mismatches on {len(pairs)} sampled pairs"
    )


if __name__ == "__main__":
    main()
