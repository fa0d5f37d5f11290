"""Audit log analysis: who touched credentials, workloads, RBAC and admission, and what looks odd.

One streaming pass over :class:`AuditEvent` values; every table is bounded (distinct keys per
identity, listed changes, identities) so memory stays flat on logs of millions of events. What a
bound cuts off is counted in ``truncated`` rather than dropped silently.

Each request is analysed once: at ``ResponseComplete`` (or ``Panic``), except long-running requests
(watch, exec, attach, port-forward), which are analysed at ``ResponseStarted`` and whose later
``ResponseComplete`` (same audit ID) is skipped. ``RequestReceived`` events are counted
(``requestReceivedSkipped``) and skipped.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from stockade.engines.audit.events import AuditEvent, agent_product, network

RBAC_GROUP = "rbac.authorization.k8s.io"
RBAC_RESOURCES = frozenset({"roles", "rolebindings", "clusterroles", "clusterrolebindings"})
ADMISSION_GROUP = "admissionregistration.k8s.io"
ADMISSION_RESOURCES = frozenset(
    {
        "mutatingwebhookconfigurations",
        "validatingwebhookconfigurations",
        "validatingadmissionpolicies",
        "validatingadmissionpolicybindings",
        "mutatingadmissionpolicies",
        "mutatingadmissionpolicybindings",
    }
)
WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection", "escalate", "bind"})
READ_SECRET_VERBS = frozenset({"get", "list", "watch"})
POD_ACCESS = frozenset({"exec", "attach", "portforward"})
_FINAL_STAGES = frozenset({"ResponseComplete", "ResponseStarted", "Panic"})

# Pod names of controller-managed pods: <workload>-<rs hash>-<5 char suffix>, <job>-<5 chars>,
# <statefulset>-<ordinal>.
_RS_POD = re.compile(r"^(.+)-[a-z0-9]{6,10}-[a-z0-9]{5}$")
_JOB_POD = re.compile(r"^(.+)-[a-z0-9]{5}$")
_STS_POD = re.compile(r"^(.+)-\d+$")

# Tried in order: specific words first, so "jupyter-model" is a notebook and "model-trainer" training.
_KIND_HINTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("notebook", ("notebook", "jupyter", "workbench", "nb-")),
    ("model-server", ("predictor", "inference", "serving", "triton", "kserve", "vllm", "tgi", "seldon")),
    ("training", ("train", "pytorchjob", "tfjob", "mpijob", "xgboostjob", "finetune", "launcher")),
    ("model-server", ("model", "serve")),
    ("training", ("worker", "master", "ray")),
)


@dataclass(frozen=True, slots=True)
class AnalyzeOptions:
    """Tunables; the defaults suit a cluster of a few hundred identities."""

    burst_window_s: int = 60
    """Window for 401/403 bursts."""
    burst_threshold: int = 20
    """Failed requests from one identity or IP within the window that make a burst."""
    sa_min_events: int = 50
    """Events a service account must have before a new source network (IPv4 /16, IPv6 /48) or
    user-agent product counts as unusual."""
    team_namespaces: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Group (team) -> namespaces it owns; users acting outside all their teams' namespaces are flagged."""
    max_identities: int = 20000
    max_keys: int = 200
    """Distinct objects kept per identity per table."""
    max_list: int = 2000
    """Listed changes (RBAC, webhooks, bursts, unusual uses) kept per table."""


def workload_of(pod: str) -> str:
    """The workload a pod name belongs to (strips ReplicaSet hash, Job suffix, StatefulSet ordinal)."""
    for rx in (_RS_POD, _STS_POD, _JOB_POD):
        m = rx.match(pod)
        if m:
            return m.group(1)
    return pod


def workload_kind(namespace: str, workload: str) -> str:
    """``model-server``, ``notebook``, ``training`` or ``other``, guessed from names."""
    text = f"{namespace}/{workload}".lower()
    for kind, hints in _KIND_HINTS:
        if any(h in text for h in hints):
            return kind
    return "other"


def _epoch(ts: str) -> int:
    # RFC 3339 to seconds; fast path for the fixed layout the API server writes.
    try:
        import calendar

        y, mo, d = int(ts[0:4]), int(ts[5:7]), int(ts[8:10])
        h, mi, s = int(ts[11:13]), int(ts[14:16]), int(ts[17:19])
        return calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))
    except (ValueError, IndexError):
        return 0


@dataclass(slots=True)
class _Bounded:
    """A counter with a cap on distinct keys (the rest is counted as overflow)."""

    cap: int
    counts: Counter[str] = field(default_factory=Counter)
    overflow: int = 0

    def add(self, key: str, n: int = 1) -> None:
        if key in self.counts or len(self.counts) < self.cap:
            self.counts[key] += n
        else:
            self.overflow += n


@dataclass(slots=True)
class _Burst:
    times: deque[int] = field(default_factory=deque)
    in_burst: bool = False


class Analyzer:
    """Feed events with :meth:`add`; read the answer with :meth:`result`."""

    def __init__(self, options: AnalyzeOptions | None = None) -> None:
        self.opt = options or AnalyzeOptions()
        self.events = 0
        self.analysed = 0
        self.first_ts = ""
        self.last_ts = ""
        self.truncated: Counter[str] = Counter()
        self.secret_reads: dict[str, _Bounded] = {}
        self.pod_access: dict[tuple[str, str], dict[str, Any]] = {}
        self.rbac_changes: list[dict[str, Any]] = []
        self.webhook_changes: list[dict[str, Any]] = []
        self.failures: Counter[str] = Counter()
        self.anonymous: Counter[str] = Counter()
        self.bursts: list[dict[str, Any]] = []
        self._burst_state: dict[str, _Burst] = {}
        self.sa_ips: dict[str, _Bounded] = {}
        self.sa_agents: dict[str, _Bounded] = {}
        self.sa_events: dict[str, int] = {}
        self.unusual_sa: list[dict[str, Any]] = []
        self.cross_ns: dict[tuple[str, str], int] = {}
        self.activity: dict[str, dict[str, int]] = {}
        self._started: dict[str, None] = {}
        self._sa_ns: dict[str, str] = {}
        self._team_of_ns: dict[str, set[str]] = defaultdict(set)
        for team, nss in self.opt.team_namespaces.items():
            for ns in nss:
                self._team_of_ns[ns].add(team)

    # -------------------------------------------------------------- feeding

    def add_all(self, events: Iterable[AuditEvent]) -> Analyzer:
        """Feed every event; returns self."""
        for ev in events:
            self.add(ev)
        return self

    def add(self, ev: AuditEvent) -> bool:
        """Account one event; returns whether it was analysed (False for a stage already counted)."""
        # Hot path: locals and plain dicts rather than properties and Counters.
        self.events += 1
        stage = ev.stage
        if stage != "ResponseComplete":
            if stage == "ResponseStarted":
                # Long-running requests (watch, exec, attach, port-forward) are logged when the
                # response starts and again when it completes: count them once, at the start.
                started = self._started
                if len(started) >= 100_000:
                    started.clear()
                started[ev.audit_id] = None
            elif stage and stage != "Panic":
                self.truncated["requestReceivedSkipped"] += 1
                return False
        elif ev.audit_id in self._started:
            del self._started[ev.audit_id]
            return False
        self.analysed += 1
        ts = ev.timestamp
        if ts:
            if ts > self.last_ts:
                self.last_ts = ts
            if ts < self.first_ts or not self.first_ts:
                self.first_ts = ts
        user = ev.user
        ident = user or "<unauthenticated>"
        opt = self.opt
        act = self.activity.get(ident)
        if act is None:
            if len(self.activity) < opt.max_identities:
                act = self.activity[ident] = {}
            else:
                self.truncated["identities"] += 1
        if act is not None:
            hour = ts[:13]
            act[hour] = act.get(hour, 0) + 1

        code = ev.code
        failed = code == 401 or code == 403
        if failed:
            self.failures[f"{code} {ident}"] += 1
            self._burst(f"identity {ident}", ts, code)
            if ev.source_ip:
                self._burst(f"sourceIP {ev.source_ip}", ts, code)
        if ident == "system:anonymous" or not user:
            self.anonymous[ev.request_uri.split("?", 1)[0][:200]] += 1

        if not ev.resource_request:
            return True
        # Who to hold to account in the tables: the authenticated user, naming the identity it
        # acted as when it impersonated someone.
        imp = ev.impersonated_user
        who = f"{ident} (as {imp})" if imp else ident
        res = ev.resource
        verb = ev.verb
        if res == "secrets":
            if ev.api_group == "" and verb in READ_SECRET_VERBS and not failed:
                b = self.secret_reads.get(who)
                if b is None:
                    b = self.secret_reads[who] = _Bounded(opt.max_keys)
                b.add(f"{ev.namespace or '*'}/{ev.name or '*'} ({verb})")
        elif res == "pods":
            if ev.subresource in POD_ACCESS:
                self._pod_access(ev, who, failed)
        elif (res in RBAC_RESOURCES or res in ADMISSION_RESOURCES) and verb in WRITE_VERBS:
            group = ev.api_group
            if group == RBAC_GROUP and res in RBAC_RESOURCES:
                self._change(self.rbac_changes, "rbac", ev, ident)
            elif group == ADMISSION_GROUP and res in ADMISSION_RESOURCES:
                self._change(self.webhook_changes, "webhooks", ev, ident)

        if failed:
            return True
        ns = ev.namespace
        if user.startswith("system:serviceaccount:") and self._sa_namespace(user):
            # The account's own token was used (also when it impersonates someone).
            self._sa_use(ident, ev)
        # Namespace reach is judged on the identity the request was authorized as.
        acting = ev.impersonated_user or user
        if acting.startswith("system:serviceaccount:"):
            sa_ns = self._sa_namespace(acting)
            if sa_ns and ns and ns != sa_ns and not sa_ns.startswith("kube-"):
                self._cross(who, ns)
        elif self._team_of_ns and ns:
            teams = self._team_of_ns.get(ns)
            if teams is not None:
                mine = {g for g in ev.acting_groups if g in self.opt.team_namespaces}
                if mine and not (mine & teams):
                    self._cross(who, ns)
        return True

    def _sa_namespace(self, user: str) -> str:
        sa_ns = self._sa_ns.get(user)
        if sa_ns is None:
            if len(self._sa_ns) > self.opt.max_identities:
                self._sa_ns.clear()
            parts = user.split(":")
            sa_ns = self._sa_ns[user] = parts[2] if len(parts) == 4 else ""
        return sa_ns

    def _change(self, target: list[dict[str, Any]], what: str, ev: AuditEvent, ident: str) -> None:
        if len(target) >= self.opt.max_list:
            self.truncated[what] += 1
            return
        target.append(
            {
                "time": ev.timestamp,
                "user": ident,
                "verb": ev.verb,
                "resource": ev.combined_resource,
                "namespace": ev.namespace,
                "name": ev.name,
                "code": ev.code,
                "impersonatedUser": ev.impersonated_user,
            }
        )

    def _cross(self, ident: str, ns: str) -> None:
        key = (ident, ns)
        if key in self.cross_ns or len(self.cross_ns) < self.opt.max_list:
            self.cross_ns[key] = self.cross_ns.get(key, 0) + 1
        else:
            self.truncated["crossNamespace"] += 1

    def _pod_access(self, ev: AuditEvent, ident: str, failed: bool) -> None:
        wl = workload_of(ev.name)
        key = (ev.namespace, wl)
        entry = self.pod_access.get(key)
        if entry is None:
            if len(self.pod_access) >= self.opt.max_list:
                self.truncated["podAccess"] += 1
                return
            entry = self.pod_access[key] = {
                "namespace": ev.namespace,
                "workload": wl,
                "kind": workload_kind(ev.namespace, wl),
                "by": Counter(),
                "denied": 0,
                "first": ev.timestamp,
                "last": ev.timestamp,
            }
        if failed:
            entry["denied"] += 1
        else:
            by: Counter[str] = entry["by"]
            k = f"{ident} {ev.subresource}"
            if k in by or len(by) < self.opt.max_keys:
                by[k] += 1
        entry["last"] = max(entry["last"], ev.timestamp)
        entry["first"] = min(entry["first"], ev.timestamp) if entry["first"] else ev.timestamp

    def _burst(self, key: str, ts: str, code: int) -> None:
        t = _epoch(ts)
        st = self._burst_state.get(key)
        if st is None:
            if len(self._burst_state) >= self.opt.max_identities:
                self.truncated["burstKeys"] += 1
                return
            st = self._burst_state[key] = _Burst()
        q = st.times
        q.append(t)
        w = self.opt.burst_window_s
        while q and q[0] < t - w:
            q.popleft()
        while len(q) > self.opt.burst_threshold * 4:  # bound the window
            q.popleft()
        if len(q) >= self.opt.burst_threshold:
            if not st.in_burst:
                st.in_burst = True
                if len(self.bursts) < self.opt.max_list:
                    self.bursts.append({"who": key, "start": ts, "count": len(q), "code": code})
                else:
                    self.truncated["bursts"] += 1
            elif self.bursts and self.bursts[-1]["who"] == key:
                self.bursts[-1]["count"] += 1
            else:
                for b in reversed(self.bursts):
                    if b["who"] == key:
                        b["count"] += 1
                        break
        elif st.in_burst and len(q) < self.opt.burst_threshold // 2:
            st.in_burst = False

    def _sa_use(self, ident: str, ev: AuditEvent) -> None:
        n = self.sa_events.get(ident, 0)
        self.sa_events[ident] = n + 1
        ip = ev.source_ip
        agent = ev.user_agent
        for table, value, key, what in (
            (self.sa_ips, ip, network(ip), "sourceIP"),
            (self.sa_agents, agent, agent_product(agent), "userAgent"),
        ):
            if not value:
                continue
            b = table.get(ident)
            if b is None:
                b = table[ident] = _Bounded(64)
            counts = b.counts
            if key in counts:
                counts[key] += 1
                continue
            b.add(key)
            if n >= self.opt.sa_min_events:
                if len(self.unusual_sa) < self.opt.max_list:
                    self.unusual_sa.append(
                        {
                            "serviceAccount": ident,
                            "what": what,
                            "value": value[:200],
                            "time": ev.timestamp,
                            "after": n,
                        }
                    )
                else:
                    self.truncated["unusualServiceAccountUse"] += 1

    # -------------------------------------------------------------- answers

    def result(self) -> dict[str, Any]:
        """The analysis as plain JSON-able data, sorted for stable output."""
        pod = []
        for (ns, wl), e in sorted(self.pod_access.items()):
            pod.append(
                {
                    "namespace": ns,
                    "workload": wl,
                    "kind": e["kind"],
                    "first": e["first"],
                    "last": e["last"],
                    "denied": e["denied"],
                    "by": [
                        {"user": k.rsplit(" ", 1)[0], "subresource": k.rsplit(" ", 1)[1], "count": c}
                        for k, c in sorted(e["by"].items())
                    ],
                }
            )
        return {
            "events": self.events,
            "analysedRequests": self.analysed,
            "window": {"first": self.first_ts, "last": self.last_ts},
            "secretReads": [
                {"user": u, "secrets": dict(sorted(b.counts.items())), "more": b.overflow}
                for u, b in sorted(self.secret_reads.items())
            ],
            "podAccess": pod,
            "rbacChanges": self.rbac_changes,
            "webhookChanges": self.webhook_changes,
            "failedRequests": [
                {"code": int(k.split(" ", 1)[0]), "user": k.split(" ", 1)[1], "count": c}
                for k, c in self.failures.most_common(100)
            ],
            "anonymousRequests": [{"path": p, "count": c} for p, c in self.anonymous.most_common(50)],
            "failureBursts": self.bursts,
            "unusualServiceAccountUse": self.unusual_sa,
            "crossNamespaceAccess": [
                {"user": u, "namespace": ns, "count": c} for (u, ns), c in sorted(self.cross_ns.items())
            ],
            "activity": {u: dict(sorted(c.items())) for u, c in sorted(self.activity.items())},
            "truncated": dict(sorted(self.truncated.items())),
        }
