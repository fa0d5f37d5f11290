"""SARIF as GitHub code scanning reads it, and JUnit as GitLab and Jenkins parse it."""

from __future__ import annotations

import io
import json
from pathlib import Path
from xml.etree import ElementTree as ET

import jsonschema  # type: ignore[import-untyped]
import pytest

from stockade.model import Finding, InputFailure, Location, ObjectRef, Report, Severity
from stockade.report import junit, sarif

SCHEMA = Path(__file__).resolve().parents[2] / "data" / "sarif-schema-2.1.0.json"
POD = ObjectRef(kind="Pod", name="web", namespace="shop", api_version="v1")


def _finding(file: str, line: int | None = 8, severity: Severity = Severity.MEDIUM, path: str = "spec") -> Finding:
    return Finding(
        "workload.image-latest-tag", severity, POD, Location(file, line), path, "image uses the latest tag", "d"
    )


def _sarif(report: Report) -> dict:  # type: ignore[type-arg]
    out = io.StringIO()
    sarif.render(report, out)
    log = json.loads(out.getvalue())
    jsonschema.Draft4Validator(json.loads(SCHEMA.read_text())).validate(log)
    return log  # type: ignore[no-any-return]


def _location(log: dict, i: int = 0) -> dict:  # type: ignore[type-arg]
    return log["runs"][0]["results"][i]["locations"][0]["physicalLocation"]  # type: ignore[no-any-return]


def test_sarif_uri_is_relative_to_the_repository_root_and_percent_encoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".git").mkdir()
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    monkeypatch.chdir(deploy)  # the scan runs in a subdirectory of the checkout
    log = _sarif(Report(findings=(_finding("ünï cødé #1.yaml"),)))
    assert _location(log) == {
        "artifactLocation": {"uri": "deploy/%C3%BCn%C3%AF%20c%C3%B8d%C3%A9%20%231.yaml", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 8},
    }
    assert log["runs"][0]["originalUriBaseIds"] == {"%SRCROOT%": {"uri": tmp_path.as_uri() + "/"}}


def test_sarif_file_outside_the_repository_is_an_absolute_file_uri(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    monkeypatch.chdir(repo)
    outside = tmp_path / "other" / "x.yaml"
    log = _sarif(Report(findings=(_finding(str(outside)),)))
    assert _location(log)["artifactLocation"] == {"uri": outside.as_uri()}


def test_sarif_kustomize_output_points_at_the_kustomization_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "overlay").mkdir()
    (tmp_path / "overlay" / "kustomization.yml").write_text("resources: []\n")
    monkeypatch.chdir(tmp_path)
    log = _sarif(Report(findings=(_finding("overlay/ (kustomize build)", 16),)))
    assert _location(log) == {
        "artifactLocation": {"uri": "overlay/kustomization.yml", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 1},  # line 16 is in the rendered stream, not in the file
    }
    assert log["runs"][0]["results"][0]["message"]["text"].endswith("[kustomize build output line 16]")


def test_sarif_keeps_the_most_severe_results_within_the_code_scanning_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sarif, "MAX_RESULTS", 2)
    findings = (
        _finding("a.yaml", 1, Severity.LOW, "a"),
        _finding("a.yaml", 2, Severity.CRITICAL, "b"),
        _finding("a.yaml", 3, Severity.LOW, "c"),
        _finding("a.yaml", 4, Severity.HIGH, "d"),
    )
    log = _sarif(Report(findings=findings))
    run = log["runs"][0]
    assert [r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in run["results"]] == [2, 4]
    assert run["invocations"][0]["toolExecutionNotifications"] == [
        {
            "level": "warning",
            "message": {"text": "2 least severe results left out: code scanning accepts at most 2 a run"},
        }
    ]


def _junit(report: Report) -> ET.Element:
    out = io.StringIO()
    junit.render(report, out)
    return ET.fromstring(out.getvalue())


def test_junit_clean_scan_still_has_passing_test_cases() -> None:
    root = _junit(Report(findings=(), objects_scanned=3, checks_run=("pss.privileged", "workload.image-latest-tag")))
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("2", "0", "0")
    cases = [(s.get("name"), c.get("name"), list(c)) for s in root for c in s]
    assert cases == [("pss.privileged", "3 objects", []), ("workload.image-latest-tag", "3 objects", [])]


def test_junit_case_names_the_file_and_line_and_survives_control_characters() -> None:
    f = Finding(
        "workload.image-latest-tag", Severity.MEDIUM, POD, Location("deploy/web.yaml", 8),
        "spec.containers[0].image", "image uses the latest tag", "container c: nginx\x1b[31m",
    )  # fmt: skip
    err = InputFailure(Location("bad.yaml", 3), "invalid YAML: found character \x07")
    root = _junit(Report(findings=(f,), errors=(err,), checks_run=("workload.image-latest-tag",)))
    (case,) = root.find("testsuite[@name='workload.image-latest-tag']")  # type: ignore[misc]
    assert (case.get("file"), case.get("line")) == ("deploy/web.yaml", "8")
    failure = case.find("failure")
    assert failure is not None and failure.text is not None
    assert failure.text.startswith("container c: nginx\ufffd[31m\ndeploy/web.yaml:8\n")
    (err_case,) = root.find("testsuite[@name='inputs']")  # type: ignore[misc]
    assert err_case.get("file") == "bad.yaml"
    assert err_case.find("error").get("message") == "invalid YAML: found character \ufffd"  # type: ignore[union-attr]
