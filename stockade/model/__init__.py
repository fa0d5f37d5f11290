"""Frozen value types shared by every part of Stockade: objects, checks, findings, reports."""

from stockade.model.findings import (
    CheckSpec,
    Finding,
    InputFailure,
    Location,
    ObjectRef,
    Reference,
    Severity,
    Skipped,
)
from stockade.model.report import Report

__all__ = [
    "CheckSpec",
    "Finding",
    "InputFailure",
    "Location",
    "ObjectRef",
    "Reference",
    "Report",
    "Severity",
    "Skipped",
]
