"""SARIF 2.1.0 output for code-scanning tools (GitHub, GitLab, Azure DevOps).

Rules come from the check registry; each result points at the file and line of the field, with
the object as a logical location and a fingerprint that survives line moves.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, TextIO

from stockade import __version__
from stockade.checks.registry import all_checks
from stockade.model import Report, Severity

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub ranks alerts by this CVSS-like number (critical >= 9.0, high >= 7.0, medium >= 4.0).
_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "1.0",
}


def _uri(file: str) -> str:
    """A repository-relative URI where possible (what code scanning expects)."""
    p = Path(file)
    if p.is_absolute():
        try:
            p = p.relative_to(Path.cwd())
        except ValueError:
            return p.as_uri()
    return p.as_posix() if os.sep == "/" else str(p).replace(os.sep, "/")


def sarif_dict(report: Report) -> dict[str, Any]:
    """The report as a SARIF log object."""
    from stockade.scan import fingerprint

    checks = all_checks()
    index = {c.spec.id: i for i, c in enumerate(checks)}
    rules = []
    for c in checks:
        s = c.spec
        rules.append(
            {
                "id": s.id,
                "name": "".join(part.capitalize() for part in s.id.replace(".", "-").split("-")),
                "shortDescription": {"text": s.title},
                "fullDescription": {"text": s.rationale},
                "help": {
                    "text": f"{s.rationale}\n\nRemediation: {s.remediation}",
                    "markdown": f"{s.rationale}\n\n**Remediation:** {s.remediation}\n\n"
                    + "\n".join(f"- [{r.title}]({r.url})" for r in s.references),
                },
                "helpUri": s.references[0].url if s.references else "https://github.com/stockade",
                "defaultConfiguration": {"level": _LEVEL[s.severity]},
                "properties": {
                    "tags": ["security", "kubernetes", s.area],
                    "security-severity": _SECURITY_SEVERITY[s.severity],
                    "precision": "high",
                },
            }
        )
    results = []
    for f in report.findings:
        loc: dict[str, Any] = {
            "logicalLocations": [
                {
                    "name": f.subject.name,
                    "fullyQualifiedName": f"{f.subject}.{f.path}" if f.path else str(f.subject),
                    "kind": "object",
                }
            ]
        }
        if f.location:
            phys: dict[str, Any] = {"artifactLocation": {"uri": _uri(f.location.file)}}
            if f.location.line:
                phys["region"] = {"startLine": f.location.line}
            loc["physicalLocation"] = phys
        text = (
            f"{f.message}: {f.detail} ({f.subject}, {f.path})" if f.detail else f"{f.message} ({f.subject}, {f.path})"
        )
        result: dict[str, Any] = {
            "ruleId": f.check_id,
            "level": _LEVEL[f.severity],
            "message": {"text": text},
            "locations": [loc],
            "partialFingerprints": {"stockade/v1": fingerprint(f)},
            "properties": {"severity": f.severity.label},
        }
        if f.check_id in index:
            result["ruleIndex"] = index[f.check_id]
        results.append(result)
    notifications = [
        {
            "level": "error",
            "message": {"text": e.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": _uri(e.location.file)},
                        **({"region": {"startLine": e.location.line}} if e.location.line else {}),
                    }
                }
            ],
        }
        for e in report.errors
    ]
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "stockade",
                        "version": __version__,
                        "informationUri": "https://github.com/stockade/stockade",
                        "rules": rules,
                    }
                },
                "invocations": [
                    {"executionSuccessful": not report.errors, "toolExecutionNotifications": notifications}
                ],
                "results": results,
                "columnKind": "unicodeCodePoints",
            }
        ],
    }


def render(report: Report, out: TextIO) -> None:
    """Write the report as SARIF 2.1.0."""
    json.dump(sarif_dict(report), out, indent=2)
    out.write("\n")
