"""Compliance frameworks: published controls mapped to Stockade checks, and per-control verdicts.

Each :class:`Framework` lists controls exactly as the published document numbers and titles them
(where the document has no numbers, the section title is the id). A control maps to the checks
that judge it; ``coverage`` says whether those checks judge the whole control or part of it.
:func:`assess` turns a scan's findings into a verdict per control:

* ``fail``: a mapped check found a problem (the findings are the evidence);
* ``pass``: every mapped check ran on inputs it can judge and found nothing, and the checks cover
  the whole control;
* ``partial``: as ``pass``, but the checks cover only part of the control;
* ``not-assessed``: no check judges the control, the checks did not run, or the inputs hold
  nothing they could judge (no RBAC objects for an RBAC control). Never reported as passed.

The data lives in :mod:`stockade.compliance.controls`; where each control list was verified is
recorded on the framework.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from stockade.model import Finding, Reference

POD_SPECS = "<pod specs>"
"""Pseudo-kind in ``Control.requires``: the inputs hold at least one pod or workload template."""


class Coverage(enum.Enum):
    """How much of a control Stockade's checks judge."""

    FULL = "full"
    PARTIAL = "partial"
    NONE = "none"


class Status(enum.Enum):
    """Verdict for one control."""

    PASS = "pass"
    FAIL = "fail"
    PARTIAL = "partial"
    NOT_ASSESSED = "not-assessed"


@dataclass(frozen=True, slots=True)
class CheckMapping:
    """A check that judges (part of) a control; ``match`` narrows it to findings whose field path
    or detail contains that text (one check covering several controls, e.g. host namespaces)."""

    check_id: str
    match: str = ""

    def selects(self, f: Finding) -> bool:
        """Whether a finding counts against the control."""
        return f.check_id == self.check_id and (not self.match or self.match in f.path or self.match in f.detail)


@dataclass(frozen=True, slots=True)
class Control:
    """One control of a framework."""

    id: str
    title: str
    checks: tuple[CheckMapping, ...] = ()
    coverage: Coverage = Coverage.NONE
    requires: tuple[str, ...] = ()
    """Kinds (any of them) the inputs must contain for the checks to judge the control."""
    note: str = ""
    """Why the control is only partly or not assessed."""

    def __post_init__(self) -> None:
        if self.checks and self.coverage is Coverage.NONE:
            raise ValueError(f"control {self.id}: mapped checks need a coverage")
        if not self.checks and self.coverage is not Coverage.NONE:
            raise ValueError(f"control {self.id}: coverage without checks")


@dataclass(frozen=True, slots=True)
class Framework:
    """A published framework and its controls."""

    id: str
    """Command-line name (``cis``, ``nsa``, ``pss``, ``owasp-k8s``)."""
    title: str
    version: str
    reference: Reference
    verified_from: tuple[Reference, ...]
    """Where the control ids and titles were checked."""
    controls: tuple[Control, ...]
    scope_note: str = ""
    """What the framework covers that is not listed (e.g. node file permissions)."""

    def check_ids(self) -> set[str]:
        """Every check id the framework maps."""
        return {m.check_id for c in self.controls for m in c.checks}


@dataclass(frozen=True, slots=True)
class ControlResult:
    """The verdict for one control, with its evidence."""

    control: Control
    status: Status
    reason: str
    findings: tuple[Finding, ...] = ()


def assess(
    framework: Framework,
    findings: Iterable[Finding],
    ran_checks: Iterable[str],
    input_kinds: Iterable[str],
    has_pod_specs: bool = False,
) -> list[ControlResult]:
    """A verdict per control from a scan: its findings, the checks that ran and the input kinds."""
    ran = set(ran_checks)
    kinds = set(input_kinds)
    if has_pod_specs:
        kinds.add(POD_SPECS)
    all_findings = list(findings)
    out: list[ControlResult] = []
    for c in framework.controls:
        out.append(_judge(c, all_findings, ran, kinds))
    return out


def _judge(c: Control, findings: Sequence[Finding], ran: set[str], kinds: set[str]) -> ControlResult:
    if not c.checks:
        why = "no Stockade check judges this control" + (f": {c.note}" if c.note else "")
        return ControlResult(c, Status.NOT_ASSESSED, why)
    active = [m for m in c.checks if m.check_id in ran]
    if not active:
        return ControlResult(c, Status.NOT_ASSESSED, "the checks for this control did not run")
    hits = tuple(f for f in findings if any(m.selects(f) for m in active))
    if hits:
        ids = sorted({f.check_id for f in hits})
        return ControlResult(c, Status.FAIL, f"{len(hits)} finding(s) from {', '.join(ids)}", hits)
    if c.requires and not (kinds & set(c.requires)):
        wanted = ", ".join("pods or workloads" if k == POD_SPECS else k for k in c.requires)
        return ControlResult(c, Status.NOT_ASSESSED, f"the inputs hold nothing to judge ({wanted})")
    skipped = [m.check_id for m in c.checks if m.check_id not in ran]
    if c.coverage is Coverage.FULL and not skipped:
        return ControlResult(c, Status.PASS, f"no findings from {', '.join(m.check_id for m in active)}")
    why = f"no findings from {', '.join(m.check_id for m in active)}"
    if skipped:
        why += f"; not run: {', '.join(skipped)}"
    if c.note:
        why += f"; not judged: {c.note}"
    return ControlResult(c, Status.PARTIAL, why)


def frameworks() -> dict[str, Framework]:
    """Every framework by command-line name."""
    from stockade.compliance.controls import all_frameworks

    return dict(all_frameworks())


def get_framework(name: str) -> Framework:
    """The framework called ``name``; raises :class:`UsageError` listing the choices."""
    from stockade.errors import UsageError

    fws = frameworks()
    if name not in fws:
        raise UsageError(f"unknown framework {name!r} (expected one of {', '.join(sorted(fws))})")
    return fws[name]


def to_json(framework: Framework, results: Sequence[ControlResult]) -> dict[str, object]:
    """A JSON-ready compliance report: framework, per-status counts and every control with evidence."""
    counts = {s.value: 0 for s in Status}
    controls = []
    for r in results:
        counts[r.status.value] += 1
        controls.append(
            {
                "id": r.control.id,
                "title": r.control.title,
                "status": r.status.value,
                "reason": r.reason,
                "checks": [m.check_id for m in r.control.checks],
                "evidence": [
                    {
                        "checkId": f.check_id,
                        "object": str(f.subject),
                        "location": str(f.location) if f.location else "",
                        "path": f.path,
                        "detail": f.detail or f.message,
                    }
                    for f in r.findings
                ],
            }
        )
    return {
        "framework": {"id": framework.id, "title": framework.title, "version": framework.version},
        "summary": counts,
        "controls": controls,
    }


def render_text(framework: Framework, results: Sequence[ControlResult], max_evidence: int = 3) -> str:
    """A plain-text compliance report, one line per control plus its first pieces of evidence."""
    lines = [f"{framework.title} {framework.version}"]
    width = max((len(r.control.id) for r in results), default=0)
    for r in results:
        lines.append(f"  {r.status.value.upper():13} {r.control.id:<{width}}  {r.control.title}")
        if r.status is not Status.PASS:
            lines.append(f"  {'':13} {'':<{width}}  ({r.reason})")
        for f in r.findings[:max_evidence]:
            where = f" {f.location}" if f.location else ""
            lines.append(f"  {'':13} {'':<{width}}  - {f.subject}{where} {f.path}: {f.detail or f.message}")
        if len(r.findings) > max_evidence:
            lines.append(f"  {'':13} {'':<{width}}  - ... {len(r.findings) - max_evidence} more")
    counts = {s: sum(1 for r in results if r.status is s) for s in Status}
    lines.append(
        f"{counts[Status.PASS]} pass, {counts[Status.FAIL]} fail, {counts[Status.PARTIAL]} partial, "
        f"{counts[Status.NOT_ASSESSED]} not assessed"
    )
    return "\n".join(lines) + "\n"
