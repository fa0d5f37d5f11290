"""Human-readable output, grouped by object, worst first within each object."""

from __future__ import annotations

import os
import sys
from collections import Counter
from itertools import groupby
from typing import TextIO

from stockade.model import Report, Severity

_COLOURS = {
    Severity.CRITICAL: "\x1b[1;31m",
    Severity.HIGH: "\x1b[31m",
    Severity.MEDIUM: "\x1b[33m",
    Severity.LOW: "\x1b[36m",
    Severity.INFO: "\x1b[2m",
}
_RESET = "\x1b[0m"


def _colour(out: TextIO) -> bool:
    return out.isatty() and "NO_COLOR" not in os.environ if hasattr(out, "isatty") else False


def render(report: Report, out: TextIO) -> None:
    """Write the report as text."""
    colour = _colour(out)

    def sev(s: Severity) -> str:
        label = f"{s.label.upper():<8}"
        return f"{_COLOURS[s]}{label}{_RESET}" if colour else label

    by_object = groupby(report.findings, key=lambda f: (f.location.file if f.location else "", f.subject))
    for (file, subject), group in by_object:
        items = sorted(group, key=lambda f: (-f.severity, f.location.line if f.location and f.location.line else 0))
        first_line = items[0].object_line
        where = f"{file}:{first_line}" if first_line else file
        out.write(f"{subject}  ({where})\n")
        for f in items:
            line = f":{f.location.line}" if f.location and f.location.line else ""
            out.write(f"  {sev(f.severity)} {f.check_id:<40} {f.message}\n")
            if f.detail:
                out.write(f"           {f.detail}  [{f.path}{' line ' + line[1:] if line else ''}]\n")
        out.write("\n")
    for err in report.errors:
        out.write(f"ERROR    {err}\n")
    for note in report.notes:
        out.write(f"note: {note}\n")
    counts = Counter(f.severity for f in report.findings)
    summary = ", ".join(f"{counts[s]} {s.label}" for s in sorted(counts, reverse=True)) or "no findings"
    extra = []
    if report.suppressed:
        extra.append(f"{len(report.suppressed)} suppressed")
    if report.skipped:
        extra.append(f"{len(report.skipped)} objects skipped")
    if report.errors:
        extra.append(f"{len(report.errors)} input errors")
    tail = f" ({'; '.join(extra)})" if extra else ""
    out.write(f"{report.objects_scanned} objects scanned: {summary}{tail}\n")
    if out is sys.stdout:
        out.flush()
