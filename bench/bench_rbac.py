"""Benchmark the RBAC engine over a generated platform of >= 10,000 roles and bindings.

Measures, after loading: ``who-can`` (every subject allowed a request) and ``can-i --list``
(every rule of an identity in a namespace) per query, plus single ``can-i`` checks. The load
time (parsing + aggregation + indexes, bootstrap policy included) is the baseline.

    .venv/bin/python bench/bench_rbac.py [--namespaces 250] [--queries 200]
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
from typing import Any

from stockade.engines.rbac import Attributes, Authorizer, impersonate

G = "rbac.authorization.k8s.io"
RESOURCES = ["pods", "services", "configmaps", "secrets", "jobs", "deployments", "rayclusters", "pytorchjobs"]
GROUPS = {"pods": "", "services": "", "configmaps": "", "secrets": "", "jobs": "batch", "deployments": "apps"}
VERBS = ["get", "list", "watch", "create", "update", "patch", "delete"]


def generate(namespaces: int, per_ns: int, cluster: int, seed: int = 7) -> list[dict[str, Any]]:
    """Roles and RoleBindings per namespace, plus ClusterRoles and ClusterRoleBindings."""
    rnd = random.Random(seed)
    objs: list[dict[str, Any]] = []

    def rules() -> list[dict[str, Any]]:
        out = []
        for _ in range(rnd.randint(1, 4)):
            res = rnd.sample(RESOURCES, rnd.randint(1, 3))
            groups = sorted({GROUPS.get(r, "ml.example.com") for r in res})
            rule: dict[str, Any] = {
                "apiGroups": groups,
                "resources": res,
                "verbs": rnd.sample(VERBS, rnd.randint(1, 4)),
            }
            if rnd.random() < 0.1:
                rule["resourceNames"] = [f"obj-{rnd.randint(0, 50)}"]
            out.append(rule)
        return out

    for c in range(cluster):
        labels = {"example.com/aggregate-to-ml": "true"} if c % 50 == 0 else {}
        objs.append({"kind": "ClusterRole", "metadata": {"name": f"cr-{c}", "labels": labels}, "rules": rules()})
        objs.append(
            {
                "kind": "ClusterRoleBinding",
                "metadata": {"name": f"crb-{c}"},
                "roleRef": {"apiGroup": G, "kind": "ClusterRole", "name": f"cr-{c}"},
                "subjects": [{"apiGroup": G, "kind": "Group", "name": f"group-{c % 40}"}],
            }
        )
    objs.append(
        {
            "kind": "ClusterRole",
            "metadata": {"name": "ml-aggregate"},
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"example.com/aggregate-to-ml": "true"}}]},
        }
    )
    for n in range(namespaces):
        ns = f"team-{n}"
        for r in range(per_ns):
            objs.append({"kind": "Role", "metadata": {"name": f"role-{r}", "namespace": ns}, "rules": rules()})
            ref = (
                {"apiGroup": G, "kind": "Role", "name": f"role-{r}"}
                if r % 4
                else {"apiGroup": G, "kind": "ClusterRole", "name": f"cr-{rnd.randrange(cluster)}"}
            )
            objs.append(
                {
                    "kind": "RoleBinding",
                    "metadata": {"name": f"rb-{r}", "namespace": ns},
                    "roleRef": ref,
                    "subjects": [
                        {"kind": "ServiceAccount", "name": f"sa-{r % 10}"},
                        {"apiGroup": G, "kind": "User", "name": f"user-{n}-{r % 7}"},
                    ],
                }
            )
    return objs


def timed(fn: Any, *args: Any) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn(*args)
    return (time.perf_counter() - t) * 1000.0, out


def report(name: str, samples: list[float]) -> None:
    samples.sort()
    p95 = samples[int(len(samples) * 0.95) - 1]
    print(
        f"{name:<28} n={len(samples):<4} mean {statistics.fmean(samples):7.3f} ms"
        f"  p50 {statistics.median(samples):7.3f} ms  p95 {p95:7.3f} ms  max {samples[-1]:7.3f} ms"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--namespaces", type=int, default=250)
    ap.add_argument("--per-namespace", type=int, default=20)
    ap.add_argument("--cluster", type=int, default=1000)
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()

    objs = generate(args.namespaces, args.per_namespace, args.cluster)
    roles = sum(1 for o in objs if o["kind"] in ("Role", "ClusterRole"))
    print(f"generated {len(objs)} objects: {roles} roles, {len(objs) - roles} bindings (+ bootstrap policy)")
    load_ms, authz = timed(Authorizer.from_objects, objs)
    print(f"{'load (baseline)':<28} {load_ms:9.1f} ms  ({len(authz.roles)} roles, {len(authz.bindings)} bindings)")

    rnd = random.Random(11)
    # Long-lived policy data: keep the cyclic GC from re-traversing it on every full collection
    # (the CLI does the same after loading).
    gc.freeze()
    index_ms, _ = timed(authz.build_index)
    print(f"{'who-can index (once)':<28} {index_ms:9.1f} ms  (load + index: {load_ms + index_ms:.1f} ms)")

    def request() -> Attributes:
        res = rnd.choice(RESOURCES)
        ns = rnd.choice([f"team-{rnd.randrange(args.namespaces)}", ""])
        return Attributes(rnd.choice(VERBS), ns, GROUPS.get(res, "ml.example.com"), res)

    def identity() -> Any:
        n = rnd.randrange(args.namespaces)
        if rnd.random() < 0.5:
            return impersonate(f"system:serviceaccount:team-{n}:sa-{rnd.randrange(10)}"), f"team-{n}"
        return impersonate(f"user-{n}-{rnd.randrange(7)}", [f"group-{rnd.randrange(40)}"]), f"team-{n}"

    who: list[float] = []
    hits = 0
    for _ in range(args.queries):
        ms, found = timed(authz.who_can, request())
        who.append(ms)
        hits += len(found)
    lst: list[float] = []
    rules = 0
    for _ in range(args.queries):
        user, ns = identity()
        ms, rs = timed(authz.rules_for, user, ns)
        lst.append(ms)
        rules += len(rs.grants)
    one: list[float] = []
    for _ in range(args.queries):
        user, ns = identity()
        ms, _ = timed(authz.authorize, user, request())
        one.append(ms)
    report("who-can", who)
    report("can-i --list", lst)
    report("can-i", one)
    print(f"(who-can found {hits / args.queries:.1f} subjects/query; --list {rules / args.queries:.1f} rules/query)")
    target = 50.0
    worst = max(max(who), max(lst))
    print(
        f"target < {target:.0f} ms per query after loading:"
        f" {'met' if worst < target else 'NOT met'} (max {worst:.2f} ms)"
    )


if __name__ == "__main__":
    main()
