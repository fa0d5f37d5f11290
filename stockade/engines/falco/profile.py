"""Behaviour profiles: learn what each workload normally does, flag what was never seen.

A *workload* is a Kubernetes pod's namespace/owner prefix, a container image, or ``host`` for
syscall-style events, and a user / service account for audit events. Features recorded per
workload: processes spawned (name and executable), outbound destinations and ports, and API
verb/resource pairs. At evaluation a feature never seen while learning raises an alert once it
occurs ``threshold`` times, so a single rare event in a noisy workload does not page anyone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stockade.engines.falco.events import Event

PROFILE_FORMAT = "stockade-runtime-profile/v1"
_SPAWN = frozenset(("execve", "execveat"))
_CONNECT = frozenset(("connect", "sendto", "sendmsg"))


def workload_of(ev: Event) -> str:
    """The workload an event belongs to."""
    g = ev.get
    if ev.source == "k8s_audit":
        return f"user:{g('ka.user.name') or '<unknown>'}"
    ns, pod = g("k8s.ns.name"), g("k8s.pod.name")
    if ns and pod:
        # strip the generated suffixes of a Deployment's pods (name-<rs hash>-<pod hash>)
        parts = str(pod).rsplit("-", 2)
        base = parts[0] if len(parts) == 3 else str(pod)
        return f"pod:{ns}/{base}"
    image = g("container.image.repository")
    if image:
        return f"image:{image}"
    cid = g("container.id")
    if cid and cid != "host":
        return f"container:{cid}"
    return "host"


def features_of(ev: Event) -> Iterator[tuple[str, str]]:
    """(kind, value) behaviour features of one event."""
    g = ev.get
    if ev.source == "k8s_audit":
        verb, res = g("ka.verb"), g("ka.target.resource")
        if verb and res:
            sub = g("ka.target.subresource")
            yield "api", f"{verb} {res}/{sub}" if sub else f"{verb} {res}"
        return
    etype = g("evt.type")
    if etype in _SPAWN:
        name = g("proc.name")
        if name:
            yield "process", str(name)
        exe = g("proc.exepath") or g("proc.exe")
        if exe:
            yield "executable", str(exe)
    elif etype in _CONNECT:
        ip, port = g("fd.sip"), g("fd.sport")
        if ip is not None and port is not None:
            yield "destination", f"{ip}:{port}"
        if port is not None:
            yield "port", str(port)


@dataclass
class Profile:
    """Per-workload feature counts."""

    workloads: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    events: int = 0

    def learn(self, ev: Event) -> None:
        """Record one event's features."""
        self.events += 1
        wl = self.workloads.setdefault(workload_of(ev), {})
        for kind, value in features_of(ev):
            bucket = wl.setdefault(kind, {})
            bucket[value] = bucket.get(value, 0) + 1

    def seen(self, workload: str, kind: str, value: str) -> bool:
        """Whether the feature was seen while learning."""
        return value in self.workloads.get(workload, {}).get(kind, {})

    def to_json(self) -> dict[str, Any]:
        """The profile file's content."""
        return {"format": PROFILE_FORMAT, "events": self.events, "workloads": self.workloads}

    def save(self, path: str | Path) -> None:
        """Write the profile as JSON."""
        Path(path).write_text(json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Profile:
        """Read a profile; raise ``ValueError`` when it is not one."""
        data = json.loads(Path(path).read_text())
        if not isinstance(data, dict) or data.get("format") != PROFILE_FORMAT:
            raise ValueError(f"not a {PROFILE_FORMAT} file")
        wls = data.get("workloads")
        if not isinstance(wls, dict):
            raise ValueError("'workloads' must be a mapping")
        return cls(workloads=wls, events=int(data.get("events", 0)))


@dataclass(frozen=True)
class Anomaly:
    """Behaviour never seen in learning."""

    workload: str
    kind: str
    value: str
    count: int


@dataclass
class AnomalyDetector:
    """Compares events with a profile; reports each new feature once it reaches ``threshold``."""

    profile: Profile
    threshold: int = 1
    counts: dict[tuple[str, str, str], int] = field(default_factory=dict)

    def check(self, ev: Event) -> list[Anomaly]:
        """Anomalies raised by this event (each new feature alerts once)."""
        out: list[Anomaly] = []
        wl = workload_of(ev)
        for kind, value in features_of(ev):
            if self.profile.seen(wl, kind, value):
                continue
            key = (wl, kind, value)
            n = self.counts.get(key, 0) + 1
            self.counts[key] = n
            if n == self.threshold:
                out.append(Anomaly(wl, kind, value, n))
        return out
