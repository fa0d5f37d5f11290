"""JUnit XML: one test case per check and object, failed when the check fired on it.

CI systems (GitLab, Jenkins, Azure) render these as test results; input errors are errored cases.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TextIO
from xml.etree import ElementTree as ET

from stockade.checks.registry import get
from stockade.model import Finding, Report


def render(report: Report, out: TextIO) -> None:
    """Write the report as JUnit XML."""
    by_check: dict[str, list[Finding]] = defaultdict(list)
    for f in report.findings:
        by_check[f.check_id].append(f)
    suites = ET.Element(
        "testsuites", name="stockade", tests=str(len(report.findings) + len(report.errors)),
        failures=str(len(report.findings)), errors=str(len(report.errors)),
    )  # fmt: skip
    for check_id in sorted(by_check):
        findings = by_check[check_id]
        spec = get(check_id)
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=check_id,
            tests=str(len(findings)),
            failures=str(len(findings)),
            errors="0",
        )
        for f in findings:
            where = f"{f.location}" if f.location else ""
            case = ET.SubElement(suite, "testcase", classname=check_id, name=f"{f.subject} {f.path}", file=where)
            failure = ET.SubElement(case, "failure", message=f.message, type=f.severity.label)
            failure.text = "\n".join(
                x for x in (f.detail, where, f"Remediation: {spec.remediation}" if spec else "") if x
            )
    if report.errors:
        suite = ET.SubElement(suites, "testsuite", name="inputs", tests=str(len(report.errors)), failures="0",
                              errors=str(len(report.errors)))  # fmt: skip
        for e in report.errors:
            case = ET.SubElement(suite, "testcase", classname="inputs", name=str(e.location))
            ET.SubElement(case, "error", message=e.message).text = str(e)
    ET.indent(suites)
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write(ET.tostring(suites, encoding="unicode"))
    out.write("\n")
