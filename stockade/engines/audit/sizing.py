"""How many events and bytes a policy would record, estimated from an existing audit log.

The log tells what was recorded under the policy in force; for each event we ask a policy what
it would record for the same request and stage:

* level ``None`` or the event's stage in ``omitStages``: nothing;
* ``Metadata``: the event without ``requestObject``/``responseObject``;
* ``Request``/``RequestResponse``: plus the bodies, when the log has them. A body the log did
  not record (the old level was lower) cannot be sized: such events are counted in
  ``unsized_bodies`` and their bytes are a lower bound.

Stages the log never recorded (e.g. ``RequestReceived`` omitted by the old policy) cannot be
counted either; the summary says which stages it saw.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stockade.engines.audit.policy import AuditConfig, Level


def _body_size(obj: Any) -> int:
    return len(json.dumps(obj, separators=(",", ":"))) if obj is not None else 0


def _managed_fields_size(obj: Any) -> int:
    if isinstance(obj, Mapping):
        md = obj.get("metadata")
        if isinstance(md, Mapping) and md.get("managedFields"):
            return _body_size(md["managedFields"]) + len('"managedFields":,')
        items = obj.get("items")
        if isinstance(items, list):
            return sum(_managed_fields_size(i) for i in items)
    return 0


@dataclass(slots=True)
class EventSizes:
    """Sizes of one logged event's parts."""

    total: int
    request_body: int
    response_body: int
    request_mf: int
    response_mf: int
    has_request: bool
    has_response: bool

    @classmethod
    def of(cls, d: Mapping[str, Any], total: int) -> EventSizes:
        """Measure an event (``total`` is its serialised size)."""
        req = d.get("requestObject")
        resp = d.get("responseObject")
        rb, pb = _body_size(req), _body_size(resp)
        return cls(
            total,
            rb,
            pb,
            _managed_fields_size(req),
            _managed_fields_size(resp),
            req is not None,
            resp is not None,
        )

    def at(self, level: Level, omit_managed_fields: bool) -> tuple[int, bool]:
        """Estimated bytes at ``level`` and whether a body that would be recorded was missing."""
        if level == Level.NONE:
            return 0, False
        base = self.total - self.request_body - self.response_body
        if level == Level.METADATA:
            return max(base, 0), False
        size = base + self.request_body - (self.request_mf if omit_managed_fields else 0)
        # RequestReceived events never carry a body; the request body is missing only if the
        # request had one (verbs that send a body) and the log did not record it.
        missing = not self.has_request
        if level == Level.REQUEST_RESPONSE:
            size += self.response_body - (self.response_mf if omit_managed_fields else 0)
            missing = missing or not self.has_response
        return max(size, 0), missing


_BODY_VERBS = frozenset({"create", "update", "patch"})


@dataclass(slots=True)
class PolicyVolume:
    """Events and bytes one policy records over a log."""

    events: int = 0
    bytes: int = 0
    unsized_bodies: int = 0
    by_level: Counter[str] = field(default_factory=Counter)

    def add(self, d: Mapping[str, Any], sizes: EventSizes, cfg: AuditConfig) -> bool:
        """Account one logged event under ``cfg``; returns whether it would be recorded."""
        stage = d.get("stage", "")
        if cfg.level == Level.NONE or stage in cfg.omit_stages:
            return False
        size, missing = sizes.at(cfg.level, cfg.omit_managed_fields)
        if missing and stage in ("ResponseComplete", "ResponseStarted", "Panic"):
            verb = d.get("verb", "")
            if cfg.level == Level.REQUEST_RESPONSE or verb in _BODY_VERBS:
                self.unsized_bodies += 1
        self.events += 1
        self.bytes += size
        self.by_level[cfg.level.label] += 1
        return True

    def to_json(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "events": self.events,
            "bytes": self.bytes,
            "byLevel": dict(sorted(self.by_level.items())),
            "unsizedBodies": self.unsized_bodies,
        }


@dataclass(slots=True)
class Comparison:
    """Volumes of the current and a new policy over the same log."""

    current: PolicyVolume = field(default_factory=PolicyVolume)
    new: PolicyVolume = field(default_factory=PolicyVolume)
    logged_events: int = 0
    logged_bytes: int = 0
    stages_seen: Counter[str] = field(default_factory=Counter)
    changed: int = 0
    """Events whose level or recording differs between the two policies."""

    def add(self, d: Mapping[str, Any], size: int, cur: AuditConfig, new: AuditConfig) -> None:
        """Account one logged event under both policies."""
        sizes = EventSizes.of(d, size)
        self.logged_events += 1
        self.logged_bytes += size
        self.stages_seen[str(d.get("stage", ""))] += 1
        a = self.current.add(d, sizes, cur)
        b = self.new.add(d, sizes, new)
        if a != b or (a and cur.level != new.level):
            self.changed += 1

    def to_json(self) -> dict[str, Any]:
        """Plain JSON form with deltas."""
        return {
            "logged": {"events": self.logged_events, "bytes": self.logged_bytes},
            "stagesSeen": dict(sorted(self.stages_seen.items())),
            "current": self.current.to_json(),
            "new": self.new.to_json(),
            "delta": {
                "events": self.new.events - self.current.events,
                "bytes": self.new.bytes - self.current.bytes,
            },
            "changedEvents": self.changed,
        }
