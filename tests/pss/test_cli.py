"""``stockade pss check`` and ``stockade pss dry-run``: outputs and exit codes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from stockade.cli import pss as pss_cli
from stockade.errors import StockadeError, UsageError

DATA = Path(__file__).parent / "data"
PLATFORM = str(DATA / "ml-platform.yaml")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="stockade")
    sub = parser.add_subparsers()
    pss_cli.register(sub)
    args = parser.parse_args(["pss", *argv])
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_check_uses_namespace_labels_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "-o", "json", PLATFORM)
    assert code == 1
    entries: list[dict[str, Any]] = json.loads(out)
    summary = {(e["kind"], e["name"]): (e["level"], e["version"], e["allowed"]) for e in entries}
    assert summary == {
        ("Deployment", "predictor"): ("restricted", "v1.30", True),
        ("Deployment", "legacy"): ("restricted", "v1.30", False),
        ("Job", "finetune"): ("baseline", "latest", True),
        ("Pod", "debug"): ("baseline", "latest", False),
    }
    debug = next(e for e in entries if e["name"] == "debug")
    assert {"file", "kind", "namespace", "name", "level", "version", "allowed", "violations"} <= set(debug)
    assert debug["file"] == PLATFORM and debug["namespace"] == "gpu-training"
    assert debug["violations"] == [
        {"check": "hostNamespaces", "reason": "host namespaces", "detail": "hostNetwork", "path": "spec.hostNetwork"},
        {
            "check": "hostPorts",
            "reason": "hostPort",
            "detail": 'container "shell" uses hostPort 8080',
            "path": "spec.containers[0].ports[0].containerPort",  # hostPort defaulted from it (hostNetwork)
        },
        {
            "check": "privileged",
            "reason": "privileged",
            "detail": 'container "shell" must not set securityContext.privileged=true',
            "path": "spec.containers[0].securityContext.privileged",
        },
    ]


def test_check_at_fixed_level_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "--level", "baseline", "--version", "v1.25", PLATFORM)
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("allowed  baseline:v1.25") and "Deployment/serving/predictor" in lines[0]
    assert any(line.startswith("DENIED   baseline:v1.25") and "Pod/gpu-training/debug" in line for line in lines)
    assert '         - privileged: privileged (container "shell" must not set securityContext.privileged=true)' in lines
    assert lines[-1] == "4 verdicts, 1 denied"


def test_check_all_allowed_exits_0(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    f = tmp_path / "ok.yaml"
    f.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: ok}\nspec: {containers: [{name: a, image: a}]}\n")
    assert run(capsys, "check", "--level", "baseline", str(f))[0] == 0


def test_check_all_modes_reports_warn_level(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "--all-modes", "-o", "json", PLATFORM)
    assert code == 1
    warn = [e for e in json.loads(out) if e["mode"] == "warn"]
    assert [(e["name"], e["level"], e["allowed"]) for e in warn] == [
        ("finetune", "restricted", False),
        ("debug", "restricted", False),
    ]


def test_check_missing_input_exits_2_after_answering(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, "check", "--level", "baseline", str(tmp_path / "nope.yaml"), PLATFORM)
    assert code == 2
    assert "nope.yaml" in err and "no such file" in err
    assert "Pod/gpu-training/debug" in out


def test_check_version_needs_level(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(UsageError):
        run(capsys, "check", "--version", "v1.30", PLATFORM)
    with pytest.raises(UsageError):
        run(capsys, "check", "--level", "baseline", "--version", "1.30", PLATFORM)


def test_check_admission_config_exemption(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cfg = tmp_path / "psa.yaml"
    cfg.write_text(
        "apiVersion: pod-security.admission.config.k8s.io/v1\nkind: PodSecurityConfiguration\n"
        "exemptions: {namespaces: [gpu-training, serving]}\n"
    )
    code, out, _ = run(capsys, "check", "--admission-config", str(cfg), "-o", "json", PLATFORM)
    assert code == 0
    assert {e["exempt"] for e in json.loads(out)} == {"namespace"}
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: PodSecurityConfiguration\napiVersion: v1\n")
    with pytest.raises(StockadeError, match="apiVersion"):
        run(capsys, "check", "--admission-config", str(bad), PLATFORM)


def test_dry_run_groups_like_the_api_server(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "dry-run", "--namespace", "gpu-training", "--level", "restricted", PLATFORM)
    assert code == 1
    assert out.splitlines() == [
        'Warning: existing pods in namespace "gpu-training" '
        'violate the new PodSecurity enforce level "restricted:latest"',
        "Warning: Job/finetune: allowPrivilegeEscalation != false, unrestricted capabilities, "
        "runAsNonRoot != true, seccompProfile",
        "Warning: debug: host namespaces, hostPort, privileged, allowPrivilegeEscalation != false, "
        "unrestricted capabilities, runAsNonRoot != true, seccompProfile",
        "namespace/gpu-training labeled (dry run: 2 pods and templates evaluated)",
    ]


def test_dry_run_keeps_current_version_label_and_skips_unchanged(capsys: pytest.CaptureFixture[str]) -> None:
    # serving already enforces restricted:v1.30; labelling enforce=restricted changes nothing
    code, out, _ = run(capsys, "dry-run", "-n", "serving", "--level", "restricted", PLATFORM)
    assert code == 0
    assert out == (
        "namespace/serving labeled (dry run: existing pods not checked: enforce policy unchanged (restricted:v1.30))\n"
    )


def test_dry_run_json_and_clean_namespace(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "dry-run",
        "-n",
        "serving",
        "--level",
        "restricted",
        "--version",
        "latest",
        "-o",
        "json",
        PLATFORM,
    )
    assert code == 1
    doc = json.loads(out)
    assert doc["groups"] == [
        {
            "reasons": [
                "allowPrivilegeEscalation != false",
                "unrestricted capabilities",
                "runAsNonRoot != true",
                "seccompProfile",
            ],
            "count": 1,
            "first": "Deployment/legacy",
            "pods": ["Deployment/legacy"],
        }
    ]
    assert doc["skipped"] is None and doc["evaluated"] == 2
    assert run(capsys, "dry-run", "-n", "web", "--level", "baseline", PLATFORM)[0] == 0
