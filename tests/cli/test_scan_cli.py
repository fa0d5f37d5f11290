"""`stockade scan` as a user runs it: exit codes, formats, malformed inputs, ignores, baselines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from stockade.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "ml-platform"
GOOD_POD = (
    "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\nspec:\n"
    "  containers:\n  - name: app\n    image: nginx:latest\n"
)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_example_platform_fails_the_default_gate_on_its_mistakes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "scan", str(EXAMPLE), "-c", str(EXAMPLE / "stockade.yaml"), "-o", "json")
    report = json.loads(out)
    assert code == 1
    fired = {(f["check"], f["object"]["kind"], f["object"]["name"], f["path"]) for f in report["findings"]}
    assert (
        "pss.privileged",
        "RayCluster",
        "tuning",
        "spec.headGroupSpec.template.spec.containers[0].securityContext.privileged",
    ) in fired
    assert (
        "workload.gpu-limit-missing",
        "PyTorchJob",
        "llm-finetune",
        "spec.pytorchReplicaSpecs.Worker.template.spec.containers[0].resources",
    ) not in fired
    assert (
        "workload.gpu-namespace-not-allowed",
        "RayCluster",
        "tuning",
        "spec.workerGroupSpecs[0].template.spec.containers[0].resources",
    ) in fired
    assert (
        "workload.image-latest-tag",
        "InferenceService",
        "fraud-detector",
        "spec.transformer.containers[0].image",
    ) in fired
    # The hardened gateway is clean apart from the exposure its annotations document.
    assert not [
        f for f in report["findings"] if f["object"]["name"] == "api-gateway" and f["severity"] in ("high", "critical")
    ]
    assert {s["reason"] for s in report["suppressed"]} == {
        "annotation: public API gateway behind the WAF", "annotation: internal clients call the gateway too"
    }  # fmt: skip


def test_clean_input_exits_zero_and_threshold_applies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "pod.yaml"
    f.write_text(GOOD_POD)
    code, out, _ = run(capsys, "scan", str(f), "--select", "workload.image-latest-tag")
    assert code == 0 and "workload.image-latest-tag" in out  # medium is below the default gate (high)
    code, _, _ = run(capsys, "scan", str(f), "--select", "workload.image-latest-tag", "--fail-on", "medium")
    assert code == 1


@pytest.fixture
def malformed(tmp_path: Path) -> dict[str, Path]:
    """One file per way input goes wrong, beside a valid file whose findings must survive."""
    files = {
        "truncated": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [p\n",
        "list-not-object": "- apiVersion: v1\n  kind: Pod\n",
        "wrong-type": "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: x}\nspec:\n  containers: {}\n",
        "label-number": "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {version: 2}}\nspec: {}\n",
        "bad-json.json": '{"apiVersion": "v1", "kind": ',
    }
    out = {}
    for name, text in files.items():
        path = tmp_path / (name if name.endswith(".json") else f"{name}.yaml")
        path.write_text(text)
        out[name] = path
    (tmp_path / "binary.yaml").write_bytes(b"\x7fELF\x00\x01\x02" * 100)
    out["binary"] = tmp_path / "binary.yaml"
    bomb = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    bomb += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    (tmp_path / "bomb.yaml").write_text("\n".join(bomb) + "\n")
    out["bomb"] = tmp_path / "bomb.yaml"
    with (tmp_path / "huge.yaml").open("w") as fh:
        fh.write("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: huge}\ndata:\n  blob: ")
        fh.write("x" * (50 * 1024 * 1024))
        fh.write("\n")
    out["huge"] = tmp_path / "huge.yaml"
    good = tmp_path / "good.yaml"
    good.write_text(GOOD_POD)
    out["good"] = good
    return out


EXPECTED_ERRORS = {
    "truncated": ":5: invalid YAML:",
    "list-not-object": ":1: expected a Kubernetes object (a mapping), got a list",
    "wrong-type": "spec.containers: expected a list, got an object",
    "label-number": 'metadata.labels["version"]: expected a string, got a number',
    "bad-json.json": ":1: invalid JSON:",
    "binary": ": binary file, not YAML or JSON",
    "bomb": ": alias expansion exceeds 1,000,000 nodes",
    "huge": ": document is 50.0 MiB, over the 8 MiB limit",
}


def test_each_malformed_input_is_one_line_exit_2_and_others_still_reported(
    malformed: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    paths = [str(p) for p in malformed.values()]
    code, out, err = run(capsys, "scan", *paths, "-o", "json", "--select", "workload.image-latest-tag")
    assert code == 2
    report = json.loads(out)
    assert [(f["check"], f["object"]["name"]) for f in report["findings"]] == [("workload.image-latest-tag", "web")]
    lines = err.strip().splitlines()
    assert len(lines) == len(EXPECTED_ERRORS)  # exactly one line per bad input, no traceback
    for name, fragment in EXPECTED_ERRORS.items():
        file = str(malformed[name])
        assert any(line.startswith(f"stockade: error: {file}") and fragment in line for line in lines), (
            name,
            lines,
        )
    assert "Traceback" not in err


def test_sarif_and_junit_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "pod.yaml"
    f.write_text(GOOD_POD)
    sarif = tmp_path / "out.sarif"
    code, out, _ = run(capsys, "scan", str(f), "-o", "sarif", "--output-file", str(sarif), "--fail-on", "low")
    assert code == 1 and out == ""
    log = json.loads(sarif.read_text())
    results = {r["ruleId"]: r for r in log["runs"][0]["results"]}
    latest = results["workload.image-latest-tag"]
    assert latest["locations"][0]["physicalLocation"]["region"] == {"startLine": 7}
    junit = tmp_path / "out.xml"
    run(capsys, "scan", str(f), "-o", "junit", "--output-file", str(junit))
    assert '<testsuite name="workload.image-latest-tag" tests="1" failures="1"' in junit.read_text()


def test_baseline_reports_only_new_findings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "pod.yaml"
    f.write_text(GOOD_POD)
    baseline = tmp_path / "baseline.json"
    code, _, _ = run(capsys, "scan", str(f), "--write-baseline", str(baseline))
    assert code == 0 and json.loads(baseline.read_text())["findings"]
    code, out, _ = run(capsys, "scan", str(f), "--baseline", str(baseline), "--fail-on", "low", "-o", "json")
    assert code == 0 and json.loads(out)["findings"] == []
    f.write_text(GOOD_POD + "  - name: sidecar\n    image: envoyproxy/envoy\n")
    code, out, _ = run(
        capsys,
        "scan",
        str(f),
        "--baseline",
        str(baseline),
        "--select",
        "workload.image-latest-tag",
        "-o",
        "json",
    )
    new = json.loads(out)["findings"]
    assert [(x["check"], x["path"]) for x in new] == [("workload.image-latest-tag", "spec.containers[1].image")]


def test_annotation_ignore_needs_a_reason_and_can_be_switched_off(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "pod.yaml"
    f.write_text(GOOD_POD.replace(
        "metadata: {name: web, namespace: shop}",
        "metadata:\n  name: web\n  namespace: shop\n  annotations:\n"
        "    ignore.stockade.io/workload.image-latest-tag: \"demo image, rebuilt nightly\"\n"
        "    ignore.stockade.io/workload.image-not-pinned: \"\"",
    ))  # fmt: skip
    args = ["scan", str(f), "--select", "workload.image-latest-tag,workload.image-not-pinned", "-o", "json"]
    report = json.loads(run(capsys, *args)[1])
    assert [x["check"] for x in report["findings"]] == ["workload.image-not-pinned"]  # empty reason: not honoured
    assert [x["reason"] for x in report["suppressed"]] == ["annotation: demo image, rebuilt nightly"]
    report = json.loads(run(capsys, *args, "--no-annotation-ignores")[1])
    assert sorted(x["check"] for x in report["findings"]) == [
        "workload.image-latest-tag",
        "workload.image-not-pinned",
    ]


def test_config_overrides_severity_and_disables(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "pod.yaml"
    f.write_text(GOOD_POD)
    cfg = tmp_path / "stockade.yaml"
    cfg.write_text(
        "checks:\n  severity: {workload.image-latest-tag: critical}\n  disable: [workload.image-not-pinned]\n"
    )
    report = json.loads(run(capsys, "scan", str(f), "-c", str(cfg), "-o", "json", "--select", "workload.image-*")[1])
    sev = {x["check"]: x["severity"] for x in report["findings"]}
    assert sev["workload.image-latest-tag"] == "critical" and "workload.image-not-pinned" not in sev


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "scan", str(tmp_path), "--select", "no.such-check")
    assert code == 2 and err.strip() == "stockade: error: no check matches 'no.such-check' (see `stockade checks`)"
    bad = tmp_path / "bad.yaml"
    bad.write_text("checks: [1]\n")
    code, _, err = run(capsys, "scan", str(tmp_path), "-c", str(bad))
    assert code == 2 and "checks must be a mapping" in err


def test_stdin_and_real_process(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "stockade.cli.main", "scan", "-", "--select", "workload.image-latest-tag"]
    proc = subprocess.run(
        [*cmd, "--fail-on", "medium"], input=GOOD_POD, capture_output=True, text=True, check=False, cwd=tmp_path
    )
    assert proc.returncode == 1, proc.stderr
    assert "Pod/shop/web  (-:1)" in proc.stdout


def test_config_naming_an_unknown_check_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "stockade.yaml"
    cfg.write_text("checks:\n  disable: [workload.image-lastest-tag]\n")
    code, _, err = run(capsys, "scan", str(tmp_path), "-c", str(cfg))
    assert code == 2
    assert err.strip() == (
        f"stockade: error: {cfg}: unknown check id(s) workload.image-lastest-tag (see `stockade checks`)"
    )


def test_framework_report_per_control(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "scan", str(EXAMPLE), "-c", str(EXAMPLE / "stockade.yaml"), "--framework", "cis", "-o", "json"
    )
    report = json.loads(out)
    assert code == 1  # the gate still follows the findings
    status = {c["id"]: c for c in report["controls"]}
    assert status["5.1.3"]["status"] == "fail"
    assert [e["object"] for e in status["5.1.3"]["evidence"]] == ["ClusterRoleBinding/ci-deployer"]
    assert status["5.1.8"]["status"] == "pass"
    # No audit policy in the inputs: not judged, never passed.
    assert status["3.2.1"]["status"] == "not-assessed"


def test_config_errors_found_by_an_area_stop_the_scan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "stockade.yaml"
    cfg.write_text("netpol:\n  bogus_switch: true\n")
    code, out, err = run(capsys, "scan", str(EXAMPLE), "-c", str(cfg))
    assert code == 2 and out == ""
    assert err.startswith(f"stockade: error: {cfg}: netpol: unknown key bogus_switch")
    assert len(err.strip().splitlines()) == 1
    cfg.write_bytes(b"checks:\n  disable: [\xff]\n")
    code, _, err = run(capsys, "scan", str(EXAMPLE), "-c", str(cfg))
    assert code == 2 and err.strip() == f"stockade: error: {cfg}: not valid UTF-8 text"


def test_pipe_input_such_as_process_substitution(tmp_path: Path) -> None:
    fifo = tmp_path / "helm-output"
    os.mkfifo(fifo)
    writer = subprocess.Popen(["sh", "-c", f'cat > "{fifo}"'], stdin=subprocess.PIPE, text=True)
    cmd = [sys.executable, "-m", "stockade.cli.main", "scan", str(fifo), "--select", "workload.image-latest-tag"]
    reader = subprocess.Popen([*cmd, "--fail-on", "medium"], stdout=subprocess.PIPE, text=True)
    writer.communicate(GOOD_POD)
    out, _ = reader.communicate(timeout=60)
    assert reader.returncode == 1
    assert f"Pod/shop/web  ({fifo}:1)" in out


def test_misspelt_top_level_setting_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "stockade.yaml"
    cfg.write_text("chekcs:\n  disable: [workload.image-not-pinned]\n")
    code, _, err = run(capsys, "scan", str(EXAMPLE), "-c", str(cfg))
    assert code == 2
    assert err.strip() == (
        f"stockade: error: {cfg}: unknown setting(s) chekcs (expected audit, checks, gpu, images, netpol, pss, rbac)"
    )
