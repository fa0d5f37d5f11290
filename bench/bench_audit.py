"""Audit benchmark: policy-engine evaluations/s, full analysis events/s and peak memory on 1M events.

Usage: .venv/bin/python bench/bench_audit.py [--events N] [--keep FILE]

Generates N realistic audit events (ML platform traffic: controllers, notebooks, training jobs,
model servers, humans, a few failures) into a temporary JSON-lines file, then measures in one
process, on one core:

* baseline: ``json.loads`` of every line;
* policy engine: evaluations/s of a realistic policy on the pre-parsed requests;
* full analysis: read + parse + analyse + anomaly scoring (``stockade audit analyze`` path);
* peak memory (ru_maxrss) of the analysis (target < 300 MB).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

POLICY: dict[str, Any] = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [
        {
            "level": "None",
            "users": ["system:kube-proxy"],
            "verbs": ["watch"],
            "resources": [{"group": "", "resources": ["endpoints", "services", "services/status"]}],
        },
        {
            "level": "None",
            "userGroups": ["system:nodes"],
            "verbs": ["get"],
            "resources": [{"group": "", "resources": ["nodes", "nodes/status"]}],
        },
        {
            "level": "None",
            "users": ["system:kube-controller-manager", "system:kube-scheduler"],
            "verbs": ["get", "update"],
            "namespaces": ["kube-system"],
            "resources": [{"group": "", "resources": ["endpoints"]}],
        },
        {"level": "None", "nonResourceURLs": ["/healthz*", "/version", "/livez*", "/readyz*"]},
        {"level": "None", "resources": [{"group": "", "resources": ["events"]}]},
        {
            "level": "Metadata",
            "resources": [
                {"group": "", "resources": ["secrets", "configmaps"]},
                {"group": "authentication.k8s.io", "resources": ["tokenreviews"]},
            ],
        },
        {"level": "Metadata", "resources": [{"group": "", "resources": ["serviceaccounts/token"]}]},
        {
            "level": "RequestResponse",
            "resources": [{"group": "", "resources": ["pods/exec", "pods/attach", "pods/portforward"]}],
        },
        {
            "level": "RequestResponse",
            "verbs": ["create", "update", "patch", "delete"],
            "resources": [{"group": "rbac.authorization.k8s.io"}, {"group": "admissionregistration.k8s.io"}],
        },
        {
            "level": "Request",
            "verbs": ["get", "list", "watch"],
            "resources": [
                {"group": ""},
                {"group": "apps"},
                {"group": "batch"},
                {"group": "kubeflow.org"},
                {"group": "serving.kserve.io"},
            ],
        },
        {"level": "RequestResponse", "resources": [{"group": ""}, {"group": "apps"}, {"group": "batch"}]},
        {"level": "Metadata"},
    ],
}

TEAMS = ["vision", "nlp", "speech", "recsys", "platform"]
IPS = [f"10.0.{i}.{j}" for i in range(4) for j in range(1, 30)]


def _event(rng: random.Random, i: int, t0: float) -> dict[str, Any]:
    team = rng.choice(TEAMS)
    ns = f"team-{team}"
    r = rng.random()
    day = i * 0.6 / 86400
    if day > 3 and rng.random() < 0.0005:
        # A stolen notebook token replayed from outside, reading another team's secrets.
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t0 + i * 0.6)) + ".000000Z"
        groups = ["system:serviceaccounts", "system:serviceaccounts:team-nlp", "system:authenticated"]
        return {
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "level": "Metadata",
            "auditID": f"x-{i:08x}",
            "stage": "ResponseComplete",
            "requestURI": "/api/v1/namespaces/team-vision/secrets",
            "verb": "list",
            "user": {"username": "system:serviceaccount:team-nlp:notebook", "groups": groups},
            "sourceIPs": ["203.0.113.7"],
            "userAgent": "curl/8.5.0",
            "responseStatus": {"metadata": {}, "code": 200},
            "objectRef": {"resource": "secrets", "namespace": "team-vision", "apiVersion": "v1"},
            "requestReceivedTimestamp": ts,
            "stageTimestamp": ts,
        }
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t0 + i * 0.6)) + f".{i % 1000:03d}000Z"
    ref: dict[str, Any] | None
    code = 200
    if r < 0.35:
        user = "system:kube-controller-manager"
        groups = ["system:authenticated"]
        verb = rng.choice(["get", "update", "list", "watch", "patch"])
        ref = {
            "resource": rng.choice(["pods", "replicasets", "deployments", "jobs", "endpoints"]),
            "namespace": ns,
            "name": f"trainer-{rng.randrange(50)}",
            "apiGroup": rng.choice(["", "apps", "batch"]),
            "apiVersion": "v1",
        }
    elif r < 0.55:
        user = f"system:node:gpu-node-{rng.randrange(40)}"
        groups = ["system:nodes", "system:authenticated"]
        verb = rng.choice(["get", "patch", "watch"])
        ref = {
            "resource": rng.choice(["nodes", "pods", "secrets", "configmaps"]),
            "subresource": rng.choice(["", "status"]),
            "name": f"x-{rng.randrange(200)}",
            "namespace": ns,
            "apiVersion": "v1",
        }
    elif r < 0.80:
        sa = rng.choice(["notebook", "trainer", "predictor", "pipeline-runner"])
        user = f"system:serviceaccount:{ns}:{sa}"
        groups = ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"]
        verb = rng.choice(["get", "list", "watch", "create"])
        ref = {
            "resource": rng.choice(["pods", "configmaps", "secrets", "pytorchjobs", "inferenceservices"]),
            "namespace": ns if rng.random() > 0.01 else "team-platform",
            "name": f"obj-{rng.randrange(100)}",
            "apiGroup": "",
            "apiVersion": "v1",
        }
    elif r < 0.95:
        user = f"{rng.choice(['ana', 'bo', 'chen', 'dara', 'eli', 'fay'])}@example.com"
        groups = [f"team:{team}", "system:authenticated"]
        verb = rng.choice(["get", "list", "create", "delete", "get", "get"])
        res = rng.choice(["pods", "pods", "secrets", "deployments", "rolebindings", "pods"])
        sub = rng.choice(["", "", "log", "exec", "portforward"]) if res == "pods" else ""
        group = {"deployments": "apps", "rolebindings": "rbac.authorization.k8s.io"}.get(res, "")
        ref = {
            "resource": res,
            "subresource": sub,
            "namespace": ns,
            "name": f"{rng.choice(['bert-predictor', 'jupyter-nb', 'train-worker'])}-7d9f8c6b5-"
            f"{rng.randrange(10000):05d}",
            "apiGroup": group,
            "apiVersion": "v1",
        }
        if sub == "exec":
            verb = "create"
        if rng.random() < 0.05:
            code = 403
    else:
        user = rng.choice(["system:anonymous", "system:kube-proxy", "system:kube-scheduler"])
        groups = ["system:unauthenticated"] if user == "system:anonymous" else ["system:authenticated"]
        verb = "get"
        ref = None
        if user == "system:anonymous":
            code = 401 if rng.random() < 0.5 else 403
    uri = "/healthz" if ref is None else f"/api/v1/namespaces/{ns}/{ref['resource']}/{ref.get('name', '')}"
    ev: dict[str, Any] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": f"{rng.getrandbits(64):016x}-{i:08x}",
        "stage": "ResponseComplete",
        "requestURI": uri,
        "verb": verb,
        "user": {"username": user, "groups": groups},
        "sourceIPs": [rng.choice(IPS)],
        "userAgent": rng.choice(
            ["kubectl/v1.31.0", "kube-controller-manager/v1.31.0", "python-requests/2.32", "kubelet/v1.31.0"]
        ),
        "responseStatus": {"metadata": {}, "code": code},
        "requestReceivedTimestamp": ts,
        "stageTimestamp": ts,
        "annotations": {
            "authorization.k8s.io/decision": "allow" if code == 200 else "forbid",
            "authorization.k8s.io/reason": "",
        },
    }
    if ref is not None:
        ev["objectRef"] = ref
    return ev


def generate(path: str, n: int, seed: int = 7) -> int:
    """Write ``n`` events to ``path``; returns the byte size."""
    rng = random.Random(seed)
    t0 = time.mktime((2026, 11, 1, 0, 0, 0, 0, 0, 0))
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps(_event(rng, i, t0), separators=(",", ":")) + "\n")
    return os.path.getsize(path)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--keep", help="keep the generated log at this path")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core

    from stockade.engines.audit.analyze import Analyzer
    from stockade.engines.audit.anomaly import Baseline
    from stockade.engines.audit.events import ReadStats, iter_events, parse_event
    from stockade.engines.audit.policy import Policy

    path = args.keep or os.path.join(tempfile.mkdtemp(prefix="stockade-bench-"), "audit.jsonl")
    t = time.perf_counter()
    size = generate(path, args.events)
    print(f"generated {args.events:,} events, {size / 1e6:,.0f} MB in {time.perf_counter() - t:.1f}s -> {path}")

    # Full analysis first, so ru_maxrss reflects it and not the request list built below.
    stats = ReadStats()
    an = Analyzer()
    t = time.perf_counter()
    for ev in iter_events([path], stats):
        an.add(ev)
    result = an.result()
    dt = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"analysis:       {stats.events / dt:>12,.0f} events/s ({dt:.1f}s); peak RSS {rss:,.0f} MB (target < 300)")
    print(
        f"  {len(result['secretReads'])} secret readers, {len(result['podAccess'])} exec targets, "
        f"{len(result['unusualServiceAccountUse'])} unusual SA uses, truncated={result['truncated']}"
    )
    stats = ReadStats()
    an = Analyzer()
    base = Baseline()
    until = "2026-11-03"
    t = time.perf_counter()
    for ev in iter_events([path], stats):
        if not an.add(ev):
            continue
        if ev.timestamp < until:
            base.learn(ev)
        else:
            base.score(ev)
    an.result()
    dt = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    anomalies = base.anomalies()
    print(
        f"analysis+anomaly:{stats.events / dt:>11,.0f} events/s ({dt:.1f}s); "
        f"peak RSS {rss:,.0f} MB; {len(anomalies)} anomaly groups, top: "
        f"{anomalies[0].identity if anomalies else '-'} {anomalies[0].reason if anomalies else ''}"
    )

    # Baseline: json.loads of the same lines.
    with open(path, "rb") as f:
        t = time.perf_counter()
        k = 0
        for line in f:
            json.loads(line)
            k += 1
        dt = time.perf_counter() - t
    print(f"json.loads:     {k / dt:>12,.0f} lines/s ({dt:.1f}s)  [baseline]")

    policy = Policy.from_dict(POLICY)
    reqs = []
    with open(path, "rb") as f:
        for i, line in enumerate(f):
            if i >= 200_000:
                break
            reqs.append(parse_event(json.loads(line)).to_request())
    rounds = 3
    levels: dict[str, int] = {}
    t = time.perf_counter()
    for _ in range(rounds):
        for rq in reqs:
            lvl = policy.evaluate(rq).level.label
            levels[lvl] = levels.get(lvl, 0) + 1
    dt = time.perf_counter() - t
    print(
        f"policy engine:  {len(reqs) * rounds / dt:>12,.0f} evaluations/s ({len(POLICY['rules'])} rules, "
        f"memoised on the attributes the policy looks at); levels {levels}"
    )
    t = time.perf_counter()
    for _ in range(rounds):
        for rq in reqs:
            policy.evaluate_uncached(rq)
    dt = time.perf_counter() - t
    print(f"policy engine:  {len(reqs) * rounds / dt:>12,.0f} evaluations/s without the memo (every request distinct)")
    if not args.keep:
        os.unlink(path)
        os.rmdir(os.path.dirname(path))


if __name__ == "__main__":
    main()
