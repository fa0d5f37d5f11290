"""Falco engine throughput on one core: events per second.

* k8s_audit: the official k8s_audit_rules.yaml on realistic audit events (the 45 single-event
  files of the conformance corpus, repeated, with per-event variation so the field cache and
  dispatch memo are exercised like a real stream), rule_matching=first.
* syscall: falco_rules.yaml on syscall-style field events (execve, openat, connect...).

Baselines in the same process: ``json.loads`` of the same audit lines, and a plain dict copy
of the same field events. Run: ``.venv/bin/python bench/bench_falco.py [--seconds N]``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stockade.engines.falco.engine import Engine, load_rules  # noqa: E402
from stockade.engines.falco.events import FieldsEvent  # noqa: E402
from stockade.engines.falco.fields import SYSCALL_SCHEMA  # noqa: E402
from stockade.engines.falco.k8saudit import K8sAuditEvent  # noqa: E402

SHARED = ROOT.parent / "shared" / "conformance" / "falco"


def audit_lines(n: int) -> list[str]:
    base: list[dict[str, Any]] = []
    for p in sorted((SHARED / "events" / "k8s_audit").glob("*.json")):
        for line in p.read_text().splitlines():
            if not line.strip():
                continue
            doc = json.loads(line)
            if isinstance(doc, dict) and "auditID" in doc:
                base.append(doc)
    rnd = random.Random(1)
    users = [
        "alice",
        "bob",
        "system:serviceaccount:ml:trainer",
        "system:kube-controller-manager",
        "minikube-user",
    ]
    out = []
    for i in range(n):
        d = json.loads(json.dumps(base[i % len(base)]))
        d["auditID"] = f"{i:08d}-bench"
        d.setdefault("user", {})["username"] = rnd.choice(users)
        out.append(json.dumps(d))
    return out


def benign_audit(i: int, rnd: random.Random) -> dict[str, Any]:
    """Routine control-plane traffic (the bulk of a real audit log): reads, watches, lease renewals."""
    verb, res, user = rnd.choice(
        [
            ("get", "leases", "system:kube-controller-manager"),
            ("update", "leases", "system:node:gpu-node-1"),
            ("watch", "pods", "system:serviceaccount:kube-system:replicaset-controller"),
            ("list", "configmaps", "system:serviceaccount:ml:trainer"),
            ("get", "endpoints", "system:kube-scheduler"),
            ("patch", "nodes", "system:node:gpu-node-2"),
            ("get", "configmaps", "system:serviceaccount:kubeflow:notebook-controller"),
            ("list", "pods", "kubernetes-admin"),
            ("create", "events", "system:node:gpu-node-1"),
            ("get", "pods", "system:serviceaccount:ml:inference"),
        ]
    )
    ns = rnd.choice(["default", "kube-system", "ml", "kubeflow"])
    name = f"{res[:-1]}-{i % 97}"
    return {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": f"{i:08x}-0000-4000-8000-benign",
        "stage": "ResponseComplete",
        "requestURI": f"/api/v1/namespaces/{ns}/{res}/{name}",
        "verb": verb,
        "user": {"username": user, "groups": ["system:authenticated"]},
        "sourceIPs": ["10.0.0.12"],
        "userAgent": "kube-controller-manager/v1.29.2 (linux/amd64) kubernetes/4b8e819",
        "objectRef": {"resource": res, "namespace": ns, "name": name, "apiVersion": "v1"},
        "responseStatus": {"metadata": {}, "code": 200},
        "requestReceivedTimestamp": "2024-05-01T10:00:00.000000Z",
        "stageTimestamp": "2024-05-01T10:00:00.002000Z",
        "annotations": {"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": "RBAC"},
    }


def mixed_audit_lines(n: int, corpus: list[str]) -> list[str]:
    """95% routine traffic, 5% the corpus's security-relevant events."""
    rnd = random.Random(3)
    return [corpus[i % len(corpus)] if i % 20 == 0 else json.dumps(benign_audit(i, rnd)) for i in range(n)]


def syscall_events(n: int) -> list[dict[str, Any]]:
    rnd = random.Random(2)
    procs = ["bash", "python3", "sshd", "nginx", "cat", "curl", "java", "node", "sh", "ls"]
    files = [
        "/etc/passwd",
        "/etc/shadow",
        "/tmp/x",
        "/var/log/syslog",
        "/models/m.safetensors",
        "/proc/self/stat",
    ]
    out = []
    for i in range(n):
        kind = i % 4
        proc = rnd.choice(procs)
        ev: dict[str, Any] = {
            "evt.num": i + 1,
            "proc.name": proc,
            "proc.pname": rnd.choice(procs),
            "proc.cmdline": f"{proc} --flag {i % 17}",
            "proc.exepath": f"/usr/bin/{proc}",
            "user.name": "root" if i % 3 else "app",
            "user.uid": 0 if i % 3 else 1000,
            "container.id": "host" if i % 2 else "3ad7b26ded6d",
            "container.image.repository": "docker.io/library/nginx",
            "proc.tty": 0,
            "proc.aname[2]": "containerd-shim",
        }
        if kind == 0:
            ev["evt.type"] = "execve"
        elif kind == 1:
            ev.update(
                {
                    "evt.type": "openat",
                    "fd.name": rnd.choice(files),
                    "fd.typechar": "f",
                    "fd.num": 3,
                    "evt.is_open_read": True,
                    "evt.is_open_write": False,
                }
            )
        elif kind == 2:
            ev.update(
                {
                    "evt.type": "connect",
                    "fd.typechar": "4",
                    "fd.sip": "10.0.0.5",
                    "fd.sport": 443,
                    "fd.net": "10.0.0.5",
                    "fd.snet": "10.0.0.5",
                    "fd.num": 5,
                }
            )
        else:
            ev.update({"evt.type": "close", "fd.num": 3})
        out.append(ev)
    return out


def rate(fn: Any, items: list[Any], seconds: float, chunk: int = 2000) -> float:
    """Best rate over short rounds: the machine is shared, so the fastest round is the one
    least disturbed by other processes (a baseline measured the same way stays comparable)."""
    best = 0.0
    deadline = time.perf_counter() + seconds
    pos = 0
    while True:
        batch = items[pos : pos + chunk] or items[:chunk]
        pos = (pos + chunk) % max(1, len(items))
        start = time.perf_counter()
        for it in batch:
            fn(it)
        el = time.perf_counter() - start
        best = max(best, len(batch) / el)
        if time.perf_counter() >= deadline:
            return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--events", type=int, default=20000)
    args = ap.parse_args()

    k8s = Engine(load_rules([str(SHARED / "rules" / "k8s_audit_rules.yaml")]))
    corpus = audit_lines(args.events)
    for label, lines in (
        ("realistic mix (95% routine)", mixed_audit_lines(args.events, corpus)),
        ("corpus only (every event suspicious)", corpus),
    ):
        docs = [json.loads(x) for x in lines]
        alerts = sum(len(k8s.evaluate(K8sAuditEvent(d))) for d in docs)
        base = rate(json.loads, lines, args.seconds)
        eng = rate(lambda d: k8s.evaluate(K8sAuditEvent(d)), docs, args.seconds)
        e2e = rate(lambda line: k8s.evaluate(K8sAuditEvent(json.loads(line))), lines, args.seconds)
        print(
            f"k8s_audit, {label}: {len(k8s.rules_for('k8s_audit'))} rules, {len(lines)} events, "
            f"{alerts} alerts per pass"
        )
        print(f"  baseline json.loads:                 {base:12,.0f} events/s")
        print(f"  engine (parsed events):              {eng:12,.0f} events/s")
        print(f"  json.loads + engine (end to end):    {e2e:12,.0f} events/s")

    sysc = Engine(load_rules([str(SHARED / "rules" / "falco_rules.yaml")]))
    raw = syscall_events(args.events)
    evs = [FieldsEvent(e, "syscall", SYSCALL_SCHEMA, i + 1) for i, e in enumerate(raw)]
    alerts = sum(len(sysc.evaluate(e)) for e in evs)
    base2 = rate(dict, raw, args.seconds)
    eng2 = rate(sysc.evaluate, evs, args.seconds)
    e2e2 = rate(lambda e: sysc.evaluate(FieldsEvent(e, "syscall", SYSCALL_SCHEMA)), raw, args.seconds)
    print(f"syscall: {len(sysc.rules_for('syscall'))} rules, {len(evs)} events, {alerts} alerts per pass")
    print(f"  baseline dict copy:                  {base2:12,.0f} events/s")
    print(f"  engine (built events):               {eng2:12,.0f} events/s")
    print(f"  event build + engine (end to end):   {e2e2:12,.0f} events/s")


if __name__ == "__main__":
    main()
