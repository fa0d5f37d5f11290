"""Output formats. Every reporter renders the same :class:`~stockade.model.Report`."""

from __future__ import annotations

from typing import Protocol, TextIO

from stockade.model import Report


class Reporter(Protocol):
    """Renders a report to a text stream."""

    def __call__(self, report: Report, out: TextIO) -> None: ...


FORMATS = ("table", "json", "sarif", "junit")


def get_reporter(name: str) -> Reporter:
    """The reporter for an output format name."""
    if name == "table":
        from stockade.report.table import render
    elif name == "json":
        from stockade.report.json import render
    elif name == "sarif":
        from stockade.report.sarif import render
    elif name == "junit":
        from stockade.report.junit import render
    else:
        raise ValueError(f"unknown output format {name!r}")
    return render
