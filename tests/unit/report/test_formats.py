"""Every format renders the same report; SARIF validates against the official 2.1.0 schema."""

from __future__ import annotations

import io
import json
from pathlib import Path
from xml.etree import ElementTree as ET

import jsonschema

from stockade.config import Config
from stockade.report import get_reporter
from stockade.scan import ScanOptions, scan_paths

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "ml-platform"
SCHEMA = ROOT / "tests" / "data" / "sarif-schema-2.1.0.json"


def _report():  # type: ignore[no-untyped-def]
    return scan_paths([str(EXAMPLE)], Config.load(EXAMPLE / "stockade.yaml"), ScanOptions(render_kustomize=False))


def render(fmt: str) -> str:
    out = io.StringIO()
    get_reporter(fmt)(_report(), out)
    return out.getvalue()


def test_sarif_validates_against_the_official_schema() -> None:
    log = json.loads(render("sarif"))
    jsonschema.Draft4Validator(json.loads(SCHEMA.read_text())).validate(log)
    run = log["runs"][0]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert "workload.gpu-namespace-not-allowed" in rule_ids
    gpu = next(r for r in run["results"] if r["ruleId"] == "workload.gpu-namespace-not-allowed")
    assert rule_ids[gpu["ruleIndex"]] == "workload.gpu-namespace-not-allowed"
    assert gpu["level"] == "error"
    assert gpu["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith(
        "examples/ml-platform/60-training.yaml"
    )
    assert gpu["locations"][0]["physicalLocation"]["region"]["startLine"] == 78
    assert gpu["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == (
        "RayCluster/team-datascience/tuning.spec.workerGroupSpecs[0].template.spec.containers[0].resources"
    )


def test_sarif_rules_carry_severity_for_code_scanning() -> None:
    rules = {r["id"]: r for r in json.loads(render("sarif"))["runs"][0]["tool"]["driver"]["rules"]}
    assert rules["workload.gpu-limit-missing"]["properties"]["security-severity"] == "8.0"
    assert rules["workload.image-not-pinned"]["defaultConfiguration"]["level"] == "note"


def test_json_report_shape() -> None:
    data = json.loads(render("json"))
    assert data["schemaVersion"] == 1
    assert set(data["summary"]) == {"objects", "findings", "bySeverity", "suppressed", "skipped", "errors"}
    f = next(x for x in data["findings"] if x["check"] == "pss.privileged")
    assert f["object"] == {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "namespace": "team-datascience",
        "name": "tuning",
    }
    assert f["file"].endswith("60-training.yaml") and f["line"] == 68
    assert len(f["fingerprint"]) == 32


def test_junit_is_well_formed_with_one_failure_per_finding() -> None:
    root = ET.fromstring(render("junit"))
    report = _report()
    assert root.tag == "testsuites" and int(root.get("failures", "-1")) == len(report.findings)


def test_table_groups_by_object() -> None:
    text = render("table")
    assert "RayCluster/team-datascience/tuning  (" in text
    assert text.strip().splitlines()[-1].startswith(f"{_report().objects_scanned} objects scanned:")
