"""JSON output. The schema is documented in docs/report-json.md and versioned by ``schemaVersion``."""

from __future__ import annotations

import json
from typing import Any, TextIO

from stockade import __version__
from stockade.checks.registry import get
from stockade.model import Finding, Report

SCHEMA_VERSION = 1


def finding_dict(f: Finding) -> dict[str, Any]:
    """One finding as a JSON object."""
    spec = get(f.check_id)
    return {
        "check": f.check_id,
        "title": spec.title if spec else "",
        "severity": f.severity.label,
        "object": {
            "apiVersion": f.subject.api_version,
            "kind": f.subject.kind,
            "namespace": f.subject.namespace,
            "name": f.subject.name,
        },
        "file": f.location.file if f.location else None,
        "line": f.location.line if f.location else None,
        "path": f.path,
        "message": f.message,
        "detail": f.detail,
        "evidence": {k: v for k, v in f.evidence},
        "remediation": spec.remediation if spec else "",
    }


def report_dict(report: Report) -> dict[str, Any]:
    """The whole report as a JSON object."""
    from stockade.scan import fingerprint

    findings = []
    for f in report.findings:
        d = finding_dict(f)
        d["fingerprint"] = fingerprint(f)
        findings.append(d)
    return {
        "schemaVersion": SCHEMA_VERSION,
        "tool": {"name": "stockade", "version": __version__},
        "inputs": list(report.inputs),
        "summary": {
            "objects": report.objects_scanned,
            "findings": len(report.findings),
            "bySeverity": {
                s: sum(1 for f in report.findings if f.severity.label == s)
                for s in ("critical", "high", "medium", "low", "info")
            },
            "suppressed": len(report.suppressed),
            "skipped": len(report.skipped),
            "errors": len(report.errors),
        },
        "findings": findings,
        "suppressed": [{**finding_dict(f), "reason": why} for f, why in report.suppressed],
        "skipped": [
            {
                "object": str(s.subject),
                "file": s.location.file if s.location else None,
                "line": s.location.line if s.location else None,
                "reason": s.reason,
            }
            for s in report.skipped
        ],
        "errors": [
            {
                "file": e.location.file,
                "line": e.location.line,
                "object": str(e.object) if e.object else None,
                "message": e.message,
            }
            for e in report.errors
        ],
        "notes": list(report.notes),
    }


def render(report: Report, out: TextIO) -> None:
    """Write the report as JSON."""
    json.dump(report_dict(report), out, indent=2, sort_keys=False, default=str)
    out.write("\n")
