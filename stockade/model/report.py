"""The report: one model that feeds every output format and the admission webhook."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from stockade.model.findings import Finding, InputFailure, Severity, Skipped


@dataclass(frozen=True, slots=True)
class Report:
    """The outcome of one scan."""

    findings: tuple[Finding, ...]
    skipped: tuple[Skipped, ...] = ()
    errors: tuple[InputFailure, ...] = ()
    inputs: tuple[str, ...] = ()
    """The paths that were given."""
    objects_scanned: int = 0
    notes: tuple[str, ...] = ()
    """Things the user should know that are not findings (e.g. a kustomization not rendered)."""
    suppressed: tuple[tuple[Finding, str], ...] = field(default=())
    """Findings silenced by an ignore annotation, with the reason given."""
    checks_run: tuple[str, ...] = ()
    """Ids of the checks that ran (compliance needs to tell "passed" from "not judged")."""
    input_kinds: frozenset[str] = frozenset()
    """Kinds of the objects scanned."""
    has_pod_specs: bool = False
    """Whether any pod or workload template was scanned."""

    def at_or_above(self, threshold: Severity) -> list[Finding]:
        """Findings whose severity reaches ``threshold``."""
        return [f for f in self.findings if f.severity >= threshold]

    def exit_code(self, fail_on: Severity) -> int:
        """0 clean, 1 findings at or above ``fail_on``, 2 inputs that could not be read."""
        if self.errors:
            return 2
        return 1 if self.at_or_above(fail_on) else 0

    @staticmethod
    def sorted_findings(findings: Iterable[Finding]) -> tuple[Finding, ...]:
        """Deterministic order: file, line, object, check, path."""
        return tuple(sorted(findings, key=Finding.sort_key))
