"""Pod Security evaluation throughput on one core, for realistic pods at Restricted.

Prints pod evaluations per second for a mix of realistic ML-platform pods (compliant serving
pods, a training pod with GPUs and shared memory, a non-compliant legacy pod), next to two
baselines measured in the same process on the same pods: ``copy.deepcopy`` and a JSON
round-trip (roughly what decoding the pod costs).

    .venv/bin/python bench/bench_pss.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stockade.engines.pss import evaluate


def _container(name: str, image: str, *, hardened: bool, gpu: bool = False) -> dict[str, Any]:
    c: dict[str, Any] = {
        "name": name,
        "image": image,
        "args": ["--port=8080", "--model-dir=/models"],
        "env": [{"name": "MODEL_NAME", "value": "llama"}, {"name": "LOG_LEVEL", "value": "info"}],
        "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
        "resources": {
            "requests": {"cpu": "2", "memory": "8Gi"},
            "limits": {"cpu": "4", "memory": "16Gi", **({"nvidia.com/gpu": "1"} if gpu else {})},
        },
        "volumeMounts": [{"name": "models", "mountPath": "/models"}, {"name": "tmp", "mountPath": "/tmp"}],
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10},
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
    }
    if hardened:
        c["securityContext"] = {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
        }
    return c


def realistic_pods() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(metadata, spec) pairs typical of an ML platform."""
    meta = {
        "name": "predictor-7d9f",
        "namespace": "serving",
        "labels": {"app": "predictor", "team": "nlp"},
        "annotations": {"prometheus.io/scrape": "true"},
    }
    volumes = [
        {"name": "models", "persistentVolumeClaim": {"claimName": "models"}},
        {"name": "tmp", "emptyDir": {}},
        {"name": "token", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}},
    ]
    serving = {
        "serviceAccountName": "predictor",
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 1000,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "initContainers": [_container("fetch-model", "registry.example.com/fetch:1.2", hardened=True)],
        "containers": [
            _container("server", "registry.example.com/vllm:0.6", hardened=True),
            _container("metrics", "registry.example.com/exporter:2.0", hardened=True),
        ],
        "volumes": volumes,
    }
    training = copy.deepcopy(serving)
    training["containers"] = [_container("trainer", "registry.example.com/torch:2.4", hardened=True, gpu=True)]
    training["volumes"] = [*volumes, {"name": "dshm", "emptyDir": {"medium": "Memory"}}]
    legacy = {
        "containers": [
            _container("app", "docker.io/library/python:3.11", hardened=False),
            _container("sidecar", "docker.io/envoyproxy/envoy:v1.30", hardened=False),
        ],
        "volumes": [*volumes, {"name": "host", "hostPath": {"path": "/var/log"}}],
    }
    return [(meta, serving), (meta, training), (meta, serving), (meta, legacy)]


def rate(fn: Callable[[], None], items: int, seconds: float) -> tuple[float, float]:
    """(best-round items per CPU-second, overall items per wall-second).

    The first figure is this core's throughput even when other processes share the machine (CPU
    time, best of 0.1 s rounds); the second is what a wall clock saw, contention included.
    """
    fn()  # warm caches (per-version check plan)
    best = 0.0
    total = 0
    wall_start = time.perf_counter()
    deadline = wall_start + seconds
    while time.perf_counter() < deadline:
        start = time.process_time()
        n = 0
        while time.process_time() - start < 0.1:
            fn()
            n += items
        total += n
        best = max(best, n / (time.process_time() - start))
    return best, total / (time.perf_counter() - wall_start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0)
    args = ap.parse_args()
    pods = realistic_pods() * 25  # 100 pods per round

    def run_restricted() -> None:
        for meta, spec in pods:
            evaluate(meta, spec, "restricted", "latest")

    def run_baseline() -> None:
        for meta, spec in pods:
            evaluate(meta, spec, "baseline", "v1.30")

    def run_deepcopy() -> None:
        for meta, spec in pods:
            copy.deepcopy(meta)
            copy.deepcopy(spec)

    def run_json() -> None:
        for meta, spec in pods:
            json.loads(json.dumps({"metadata": meta, "spec": spec}))

    denied = sum(not evaluate(m, s, "restricted").allowed for m, s in pods)
    print(f"pods per round: {len(pods)} ({denied} denied at restricted:latest)")
    results = [
        ("pss evaluate restricted:latest", rate(run_restricted, len(pods), args.seconds)),
        ("pss evaluate baseline:v1.30", rate(run_baseline, len(pods), args.seconds)),
        ("baseline: copy.deepcopy(pod)", rate(run_deepcopy, len(pods), args.seconds)),
        ("baseline: json round-trip(pod)", rate(run_json, len(pods), args.seconds)),
    ]
    print(f"{'':34s} {'pods/s (CPU, best)':>20s} {'us/pod':>8s} {'pods/s (wall)':>15s}")
    for name, (cpu, wall) in results:
        print(f"{name:34s} {cpu:20,.0f} {1e6 / cpu:8.1f} {wall:15,.0f}")
    target = 20_000
    ok = results[0][1][0] >= target
    print(f"target >= {target:,} pods/s at restricted: {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
