"""Checks, the findings they produce, and the references that back them."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Any


class Severity(enum.IntEnum):
    """How bad a finding is; ordered so thresholds compare naturally."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Parse a severity name, case-insensitively; raises ValueError on anything else."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(s.name.lower() for s in cls)
            raise ValueError(f"unknown severity {text!r} (expected one of {names})") from None

    @property
    def label(self) -> str:
        """Lower-case name used in every output format."""
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Reference:
    """A document that backs a check: upstream docs, a benchmark control, a CWE."""

    title: str
    url: str


_CHECK_ID = re.compile(r"^[a-z0-9]+(?:[.-][a-z0-9]+)*$")


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """Everything a user needs to know about a check, declared once next to its logic."""

    id: str
    """Stable identifier, ``<area>.<name>`` in lower-case kebab case, e.g. ``workload.image-latest-tag``."""
    title: str
    """One line saying what is wrong when the check fires."""
    severity: Severity
    """Default severity; a configuration file may override it."""
    rationale: str
    """Why this matters on a shared ML platform."""
    remediation: str
    """What to change; a full sentence ending with a period."""
    references: tuple[Reference, ...] = ()
    """Upstream documents backing the check."""
    area: str = ""
    """Defence layer (``workload``, ``pss``, ``rbac``, ``netpol``, ...); derived from the id if empty."""

    def __post_init__(self) -> None:
        if not _CHECK_ID.match(self.id) or "." not in self.id:
            raise ValueError(f"check id {self.id!r} must look like 'area.kebab-name'")
        if not self.area:
            object.__setattr__(self, "area", self.id.split(".", 1)[0])


@dataclass(frozen=True, slots=True, order=True)
class ObjectRef:
    """Identifies one Kubernetes object. ``namespace`` is ``None`` when the manifest gives none."""

    kind: str
    name: str
    namespace: str | None = None
    api_version: str = ""

    def __str__(self) -> str:
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}/{ns}{self.name}"


@dataclass(frozen=True, slots=True)
class Location:
    """Where something was read: a file (``-`` for standard input) and a 1-based line."""

    file: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found by one check on one object.

    ``message`` is the short, aggregatable reason (the same for every object with this problem);
    ``detail`` is specific to this object (container name, value seen). Neither ever holds a
    secret value.
    """

    check_id: str
    severity: Severity
    subject: ObjectRef
    location: Location | None
    path: str
    """Field path inside the object, e.g. ``spec.template.spec.containers[0].image``."""
    message: str
    detail: str = ""
    evidence: tuple[tuple[str, Any], ...] = field(default=())
    """Structured facts for machine consumers (JSON, SARIF properties)."""
    object_line: int | None = None
    """Line where the object starts (``location`` is the line of the field)."""

    def sort_key(self) -> tuple[str, int, str, str, str]:
        loc = self.location
        return (
            loc.file if loc else "",
            (loc.line or 0) if loc else 0,
            str(self.subject),
            self.check_id,
            self.path,
        )


@dataclass(frozen=True, slots=True)
class Skipped:
    """An object that was read but not analysed, with the reason (nothing is silently dropped)."""

    subject: ObjectRef
    location: Location | None
    reason: str


@dataclass(frozen=True, slots=True)
class InputFailure:
    """An input that could not be read or parsed: reported, and fails a CI gate (exit 2)."""

    location: Location
    message: str
    object: ObjectRef | None = None

    def __str__(self) -> str:
        where = f"{self.location} ({self.object})" if self.object else str(self.location)
        return f"{where}: {self.message}"
