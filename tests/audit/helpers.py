"""Builders for audit Event dicts used across the audit tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stockade.engines.audit.events import AuditEvent, parse_event


def event(
    user: str,
    verb: str,
    resource: str = "",
    namespace: str = "",
    name: str = "",
    *,
    group: str = "",
    sub: str = "",
    groups: list[str] | None = None,
    code: int = 200,
    ts: str = "2026-11-02T10:00:00.000000Z",
    ip: str = "10.0.0.1",
    agent: str = "kubectl/v1.31.0",
    path: str = "",
    stage: str = "ResponseComplete",
    level: str = "Metadata",
    **extra: Any,
) -> dict[str, Any]:
    """One audit Event as the API server writes it (resource request unless ``path`` is given)."""
    d: dict[str, Any] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": level,
        "auditID": f"id-{user}-{verb}-{resource}-{name}-{ts}",
        "stage": stage,
        "verb": verb,
        "user": {"username": user, "groups": groups if groups is not None else ["system:authenticated"]},
        "sourceIPs": [ip],
        "userAgent": agent,
        "responseStatus": {"metadata": {}, "code": code},
        "requestReceivedTimestamp": ts,
        "stageTimestamp": ts,
    }
    if path:
        d["requestURI"] = path
    else:
        ref = {
            "resource": resource,
            "namespace": namespace,
            "name": name,
            "apiGroup": group,
            "apiVersion": "v1",
        }
        if sub:
            ref["subresource"] = sub
        d["objectRef"] = {k: v for k, v in ref.items() if v}
        d["requestURI"] = f"/api/v1/namespaces/{namespace}/{resource}/{name}"
    d.update(extra)
    return d


def parsed(*dicts: dict[str, Any]) -> list[AuditEvent]:
    """Parse event dicts as the reader would."""
    return [parse_event(d, len(json.dumps(d))) for d in dicts]


def write_log(path: Path, dicts: list[dict[str, Any]]) -> Path:
    """Write events as JSON lines."""
    path.write_text("".join(json.dumps(d) + "\n" for d in dicts))
    return path
