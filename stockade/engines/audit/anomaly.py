"""Per-identity baselines learned from a training window, and scores for what is new or rare.

For every identity the baseline counts verbs, resources (``group/resource[/sub]``), namespaces,
source networks (IPv4 /16, IPv6 /48: pod IPs change on restart, the network does not) and hours
of day (UTC). A later request scores by what it shows that the identity
never (``new``) or seldom (``rare``: under ``rare_fraction`` of its training requests) did.
Per-feature weights combine as independent evidence: ``score = 1 - prod(1 - w)``, so one new
namespace scores 0.4 and a new namespace reached from a new IP scores 0.58. An identity absent
from the training window scores 0.5 once (``new identity``) and is then learned, so it does not
flood the report.

Anomalies are aggregated per (identity, reason) with a count, first time and best score, so the
output stays small whatever the log size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from stockade.engines.audit.events import AuditEvent, network

FEATURES = ("verb", "resource", "namespace", "source network", "hour")
"""Per-request features, in the order of the value tuples below."""
WEIGHTS: tuple[tuple[float, float], ...] = ((0.3, 0.1), (0.4, 0.15), (0.4, 0.15), (0.3, 0.1), (0.2, 0.05))
"""(weight when never seen, weight when rare) per feature."""
_FINAL = frozenset({"ResponseComplete", "ResponseStarted", "Panic", ""})


def _features(ev: AuditEvent) -> tuple[str, str, str, str, str]:
    """(verb, resource, namespace, source network, hour); ``""`` when the request has none."""
    if ev.resource_request:
        sub = ev.subresource
        res = f"{ev.api_group or 'core'}/{ev.resource}/{sub}" if sub else f"{ev.api_group or 'core'}/{ev.resource}"
        ns = ev.namespace or "<cluster>"
    else:
        res = "url:" + ev.request_uri.split("?", 1)[0][:100]
        ns = ""
    ts = ev.timestamp
    return ev.verb, res, ns, network(ev.source_ip) if ev.source_ip else "", ts[11:13] if len(ts) >= 13 else ""


@dataclass(slots=True)
class IdentityProfile:
    """What one identity did in the training window."""

    total: int = 0
    seen: tuple[dict[str, int], ...] = field(default_factory=lambda: tuple({} for _ in FEATURES))

    def learn(self, feats: tuple[str, ...], cap: int) -> None:
        """Count one request's features (at most ``cap`` distinct values per feature)."""
        self.total += 1
        for c, value in zip(self.seen, feats, strict=True):
            if not value:
                continue
            n = c.get(value)
            if n is not None:
                c[value] = n + 1
            elif len(c) < cap:
                c[value] = 1


@dataclass(frozen=True, slots=True)
class Anomaly:
    """An aggregated anomaly: what, for whom, how often, how bad."""

    identity: str
    reason: str
    score: float
    count: int
    first: str
    example: str

    def to_json(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "identity": self.identity,
            "reason": self.reason,
            "score": round(self.score, 3),
            "count": self.count,
            "first": self.first,
            "example": self.example,
        }


class Baseline:
    """Learn with :meth:`learn`, then :meth:`score` later events; :meth:`anomalies` summarises."""

    def __init__(self, rare_fraction: float = 0.01, min_score: float = 0.3, cap: int = 256, max_anomalies: int = 5000):
        self.rare_fraction = rare_fraction
        self.min_score = min_score
        self.cap = cap
        self.max_anomalies = max_anomalies
        self.profiles: dict[str, IdentityProfile] = {}
        self._agg: dict[tuple[str, str], list[Any]] = {}
        self.dropped = 0

    def learn(self, ev: AuditEvent) -> None:
        """Add a training request."""
        if ev.stage not in _FINAL:
            return
        ident = ev.user or "<unauthenticated>"
        prof = self.profiles.get(ident)
        if prof is None:
            prof = self.profiles[ident] = IdentityProfile()
        prof.learn(_features(ev), self.cap)

    def score(self, ev: AuditEvent) -> tuple[float, list[str]]:
        """Score one request against its identity's baseline: ``(score, reasons)``; records anomalies."""
        if ev.stage not in _FINAL:
            return 0.0, []
        ident = ev.user or "<unauthenticated>"
        prof = self.profiles.get(ident)
        feats = _features(ev)
        if prof is not None:
            # Fast path (most traffic): every feature is common for this identity -> score 0.
            verb, res, ns, net, hour = feats
            c_verb, c_res, c_ns, c_net, c_hour = prof.seen
            rare_below = self.rare_fraction * prof.total
            lim = rare_below if rare_below > 1 else 1
            if (
                c_verb.get(verb, 0) >= lim
                and c_res.get(res, 0) >= lim
                and (not ns or c_ns.get(ns, 0) >= lim)
                and (not net or c_net.get(net, 0) >= lim)
                and (not hour or c_hour.get(hour, 0) >= lim)
            ):
                return 0.0, []
        if prof is None:
            reasons = ["new identity"]
            score = 0.5
            prof = self.profiles[ident] = IdentityProfile()
            prof.learn(feats, self.cap)
        else:
            keep = 1.0
            reasons = []
            rare_below = self.rare_fraction * prof.total
            for i, (c, value) in enumerate(zip(prof.seen, feats, strict=True)):
                if not value:
                    continue
                n = c.get(value, 0)
                if n >= rare_below and n:
                    continue
                if i == 4 and n == 0 and c:
                    # A neighbouring hour counts as seen: working hours drift.
                    h = int(value)
                    if c.get(f"{(h - 1) % 24:02d}", 0) + c.get(f"{(h + 1) % 24:02d}", 0):
                        continue
                new_w, rare_w = WEIGHTS[i]
                if n == 0:
                    keep *= 1 - new_w
                    reasons.append(f"new {FEATURES[i]} {value}")
                else:
                    keep *= 1 - rare_w
                    reasons.append(f"rare {FEATURES[i]} {value} ({n} of {prof.total})")
            score = 1 - keep
        if score >= self.min_score:
            self._record(ident, reasons, score, ev)
        return score, reasons

    def _record(self, ident: str, reasons: Sequence[str], score: float, ev: AuditEvent) -> None:
        # Aggregate on the reason kinds without counts so repeats of the same novelty merge.
        reason = "; ".join(r.split(" (", 1)[0] for r in reasons)
        key = (ident, reason)
        entry = self._agg.get(key)
        if entry is None:
            if len(self._agg) >= self.max_anomalies:
                self.dropped += 1
                return
            example = f"{ev.verb} {ev.combined_resource or ev.request_uri[:100]}"
            if ev.namespace:
                example += f" in {ev.namespace}"
            self._agg[key] = [score, 1, ev.timestamp, example]
        else:
            entry[0] = max(entry[0], score)
            entry[1] += 1

    def anomalies(self) -> list[Anomaly]:
        """Aggregated anomalies, highest score first."""
        out = [Anomaly(i, r, e[0], e[1], e[2], e[3]) for (i, r), e in self._agg.items()]
        out.sort(key=lambda a: (-a.score, a.identity, a.reason))
        return out
