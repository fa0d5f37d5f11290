"""JUnit XML: one test suite per check run, one failed test case per finding (check and object).

CI systems (GitLab, Jenkins, Azure) render these as test results; input errors are errored cases.
A check that fired on nothing gets one passing case, so a clean scan still has tests (Jenkins
treats a report without any test case as a broken report).
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import TextIO
from xml.etree import ElementTree as ET

from stockade.checks.registry import get
from stockade.model import Finding, Report

# Characters XML 1.0 cannot carry even escaped (a manifest value may hold them).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _x(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def render(report: Report, out: TextIO) -> None:
    """Write the report as JUnit XML."""
    by_check: dict[str, list[Finding]] = defaultdict(list)
    for f in report.findings:
        by_check[f.check_id].append(f)
    check_ids = sorted(set(report.checks_run) | set(by_check))
    passed = sum(1 for c in check_ids if not by_check.get(c))
    suites = ET.Element(
        "testsuites", name="stockade", tests=str(len(report.findings) + passed + len(report.errors)),
        failures=str(len(report.findings)), errors=str(len(report.errors)), time="0",
    )  # fmt: skip
    for check_id in check_ids:
        findings = by_check.get(check_id, [])
        spec = get(check_id)
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=check_id,
            tests=str(len(findings) or 1),
            failures=str(len(findings)),
            errors="0",
            skipped="0",
            time="0",
        )
        if not findings:
            ET.SubElement(suite, "testcase", classname=check_id, name=f"{report.objects_scanned} objects", time="0")
            continue
        for f in findings:
            where = f"{f.location}" if f.location else ""
            case = ET.SubElement(suite, "testcase", classname=check_id, name=_x(f"{f.subject} {f.path}"), time="0")
            if f.location:
                case.set("file", _x(f.location.file))  # a path: GitLab links it
                if f.location.line:
                    case.set("line", str(f.location.line))
            failure = ET.SubElement(case, "failure", message=_x(f.message), type=f.severity.label)
            failure.text = _x(
                "\n".join(x for x in (f.detail, where, f"Remediation: {spec.remediation}" if spec else "") if x)
            )
    if report.errors:
        suite = ET.SubElement(suites, "testsuite", name="inputs", tests=str(len(report.errors)), failures="0",
                              errors=str(len(report.errors)), skipped="0", time="0")  # fmt: skip
        for e in report.errors:
            case = ET.SubElement(suite, "testcase", classname="inputs", name=_x(str(e.location)), time="0")
            case.set("file", _x(e.location.file))
            ET.SubElement(case, "error", message=_x(e.message)).text = _x(str(e))
    ET.indent(suites)
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write(ET.tostring(suites, encoding="unicode"))
    out.write("\n")
