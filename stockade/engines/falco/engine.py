"""Evaluate events against compiled rules; produce alerts.

Rules are indexed per source and per value of the source's dispatch fields (``evt.type`` for
syscall, ``ka.target.resource``/``ka.verb`` for k8s_audit): an event is only tested against the
rules that can match it, in the order of their first definition. ``rule_matching`` is
``first`` (Falco's default: one alert per event) or ``all``.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from stockade.engines.falco.events import Event
from stockade.engines.falco.fields import DISPATCH_FIELDS
from stockade.engines.falco.k8saudit import format_time
from stockade.engines.falco.loader import PRIORITIES, CompiledRule, RuleSet


class Alert(NamedTuple):
    """One rule match on one event (an immutable value; a named tuple because alerts are made
    on the hot path and tuples are cheap to build)."""

    rule: str
    priority: str
    priority_rank: int
    source: str
    output: str
    output_fields: dict[str, Any]
    tags: tuple[str, ...]
    time_ns: int
    hostname: str

    @property
    def time_iso(self) -> str:
        """``2018-10-25T14:09:12.000000000Z``."""
        return format_time(self.time_ns, iso=True)

    def text(self) -> str:
        """Falco's text line: ``<time>: <Priority> <output>``."""
        return f"{format_time(self.time_ns, iso=False)}: {self.priority} {self.output}"

    def to_json(self) -> dict[str, Any]:
        """Falco's JSON alert shape (keys sorted, as Falco's JSON library writes objects)."""
        return {
            "hostname": self.hostname,
            "output": f"{format_time(self.time_ns, iso=False)}: {self.priority} {self.output}",
            "output_fields": dict(sorted(self.output_fields.items())),
            "priority": self.priority,
            "rule": self.rule,
            "source": self.source,
            "tags": list(self.tags),
            "time": self.time_iso,
        }

    def json_line(self) -> str:
        """The JSON alert on one line, compact like Falco's (``{"hostname":"h","output":...}``)."""
        return json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":"))


@dataclass
class Engine:
    """Rules compiled once, indexed for dispatch; call :meth:`evaluate` per event."""

    ruleset: RuleSet
    rule_matching: str = "first"
    min_priority: int = len(PRIORITIES) - 1
    hostname: str = field(default_factory=socket.gethostname)
    _by_source: dict[str, list[CompiledRule]] = field(default_factory=dict, init=False)
    _dispatch_cache: dict[tuple[Any, ...], list[CompiledRule]] = field(default_factory=dict, init=False)
    stats: dict[str, int] = field(default_factory=lambda: {"events": 0, "alerts": 0, "errors": 0}, init=False)

    def __post_init__(self) -> None:
        for r in self.ruleset.compiled:
            if r.enabled and r.priority <= self.min_priority:
                self._by_source.setdefault(r.source, []).append(r)

    def rules_for(self, source: str) -> list[CompiledRule]:
        """The enabled rules of a source, in evaluation order."""
        return self._by_source.get(source, [])

    def candidates(self, ev: Event) -> list[CompiledRule]:
        """The rules ``ev`` is tested against (dispatch index, memoised per value combination)."""
        source = ev.source
        g = ev.get
        if source == "k8s_audit":
            ck: tuple[Any, ...] = (source, g("ka.target.resource"), g("ka.verb"))
        elif source == "syscall":
            ck = (source, g("evt.type"))
        else:
            ck = (source, *(g(f) for f in DISPATCH_FIELDS.get(source, ())))
        cands = self._dispatch_cache.get(ck)
        if cands is None:
            cands = []
            for r in self._by_source.get(source, []):
                ok = True
                for want, have in zip(r.dispatch, ck[1:], strict=False):
                    if want is not None and (not isinstance(have, str) or have not in want):
                        ok = False
                        break
                if ok:
                    cands.append(r)
            if len(self._dispatch_cache) < 100_000:
                self._dispatch_cache[ck] = cands
        return cands

    def match(self, ev: Event) -> list[CompiledRule]:
        """The rules that match ``ev`` (one at most with ``rule_matching='first'``)."""
        g = ev.get
        first = self.rule_matching == "first"
        out: list[CompiledRule] = []
        for r in self.candidates(ev):
            try:
                hit = r.predicate(g)
            except Exception:
                self.stats["errors"] += 1
                hit = False
            if hit:
                out.append(r)
                if first:
                    break
        return out

    def evaluate(self, ev: Event) -> list[Alert]:
        """Alerts for one event."""
        self.stats["events"] += 1
        rules = self.match(ev)
        if not rules:
            return []
        alerts = []
        g = ev.get
        t = ev.time_ns() or time.time_ns()
        for r in rules:
            text, fields = r.output.evaluate(g)
            alerts.append(
                Alert(
                    rule=r.name,
                    priority=r.priority_name,
                    priority_rank=r.priority,
                    source=r.source,
                    output=text,
                    output_fields={"evt.time": t, **fields},
                    tags=r.tags,
                    time_ns=t,
                    hostname=self.hostname,
                )
            )
        self.stats["alerts"] += len(alerts)
        return alerts

    def run(self, events: Iterable[Event]) -> Iterator[Alert]:
        """Alerts for a stream of events."""
        for ev in events:
            yield from self.evaluate(ev)


def load_rules(paths: Iterable[str], schemas: Any = None) -> RuleSet:
    """Load rules files in order; the result carries ``errors`` and ``warnings``."""
    rs = RuleSet(schemas)
    for p in paths:
        if not rs.load_file(p):
            break
    rs.finish()
    return rs
