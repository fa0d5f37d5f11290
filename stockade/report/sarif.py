"""SARIF 2.1.0 output for code-scanning tools (GitHub, GitLab, Azure DevOps).

Rules come from the check registry; each result points at the file and line of the field, with
the object as a logical location and a fingerprint that survives line moves.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

from stockade import __version__
from stockade.checks.registry import all_checks
from stockade.model import Report, Severity

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"
MAX_RESULTS = 25_000
"""GitHub code scanning refuses a SARIF run with more results than this."""
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


_KUSTOMIZE_BUILD = "/ (kustomize build)"
"""Suffix the loader gives the rendered output of a kustomization directory."""


def _source_root() -> Path:
    """The repository root (nearest ``.git`` above the working directory), else the working directory:
    code scanning resolves a relative URI against the repository root, not where the scan ran."""
    cwd = Path(os.path.abspath(os.getcwd()))
    for d in (cwd, *cwd.parents):
        if (d / ".git").exists():
            return d
    return cwd


def _artifact(file: str, root: Path) -> tuple[dict[str, str], bool]:
    """The artifactLocation of an input file, and whether it is kustomize output (whose lines are
    lines of the rendered stream, not of a file in the repository)."""
    rendered = file.endswith(_KUSTOMIZE_BUILD)
    if rendered:
        from stockade.loading.sources import KUSTOMIZATION_FILES

        directory = Path(file[: -len(_KUSTOMIZE_BUILD)])
        name = next((n for n in KUSTOMIZATION_FILES if (directory / n).is_file()), KUSTOMIZATION_FILES[0])
        file = str(directory / name)
    if file == "-":
        return {"uri": "stdin"}, rendered
    # Absolute without resolving symlinks: a symlinked manifest is reported where the repository has it.
    p = Path(os.path.abspath(file))
    try:
        rel = p.relative_to(root)
    except ValueError:
        return {"uri": p.as_uri()}, rendered
    # A URI, not a path: spaces, '#', '%' and non-ASCII names are percent-encoded.
    # (Encoded from the file system bytes, so a name that is not UTF-8 survives, as in as_uri().)
    return {"uri": quote(os.fsencode(rel.as_posix()), safe="/"), "uriBaseId": SRCROOT}, rendered


def _physical(file: str, line: int | None, root: Path) -> tuple[dict[str, Any], str]:
    """A physicalLocation and, for kustomize output, a note of the line in the rendered stream."""
    artifact, rendered = _artifact(file, root)
    phys: dict[str, Any] = {"artifactLocation": artifact}
    if rendered:
        # The finding is in generated text: point at the kustomization file itself.
        phys["region"] = {"startLine": 1}
        return phys, f" [kustomize build output line {line}]" if line else " [kustomize build output]"
    if line:
        phys["region"] = {"startLine": line}
    return phys, ""


def sarif_dict(report: Report) -> dict[str, Any]:
    """The report as a SARIF log object."""
    from stockade.scan import fingerprint

    root = _source_root()
    checks = all_checks()
    index = {c.spec.id: i for i, c in enumerate(checks)}
    rules = []
    # stockade.yaml may override a check's severity: code scanning ranks alerts by the rule's
    # security-severity, so the rule must say what the findings say.
    effective = {f.check_id: f.severity for f in report.findings}
    for c in checks:
        s = c.spec
        severity = effective.get(s.id, s.severity)
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
                "defaultConfiguration": {"level": _LEVEL[severity]},
                "properties": {
                    "tags": ["security", "kubernetes", s.area],
                    "security-severity": _SECURITY_SEVERITY[severity],
                    "precision": "high",
                },
            }
        )
    results = []
    findings = report.findings
    if len(findings) > MAX_RESULTS:
        # Code scanning rejects a run with more results: keep the most severe, in report order.
        keep = set(sorted(range(len(findings)), key=lambda i: (-findings[i].severity, i))[:MAX_RESULTS])
        findings = tuple(f for i, f in enumerate(findings) if i in keep)
    for f in findings:
        loc: dict[str, Any] = {
            "logicalLocations": [
                {
                    "name": f.subject.name,
                    "fullyQualifiedName": f"{f.subject}.{f.path}" if f.path else str(f.subject),
                    "kind": "object",
                }
            ]
        }
        where = ""
        if f.location:
            loc["physicalLocation"], where = _physical(f.location.file, f.location.line, root)
        text = (
            f"{f.message}: {f.detail} ({f.subject}, {f.path})" if f.detail else f"{f.message} ({f.subject}, {f.path})"
        ) + where
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
    notifications: list[dict[str, Any]] = []
    if len(findings) < len(report.findings):
        omitted = len(report.findings) - len(findings)
        text = f"{omitted} least severe results left out: code scanning accepts at most {MAX_RESULTS:,} a run"
        notifications.append({"level": "warning", "message": {"text": text}})
    for e in report.errors:
        phys, where = _physical(e.location.file, e.location.line, root)
        notifications.append(
            {"level": "error", "message": {"text": e.message + where}, "locations": [{"physicalLocation": phys}]}
        )
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
                "originalUriBaseIds": {SRCROOT: {"uri": root.as_uri().rstrip("/") + "/"}},
                "results": results,
                "columnKind": "unicodeCodePoints",
            }
        ],
    }


def render(report: Report, out: TextIO) -> None:
    """Write the report as SARIF 2.1.0."""
    json.dump(sarif_dict(report), out, indent=2)
    out.write("\n")
