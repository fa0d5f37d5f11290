"""``stockade audit`` sub-commands end to end (through the real entry point)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from stockade.cli.main import main
from tests.audit.helpers import event, write_log

POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  nonResourceURLs: ["/healthz*"]
- level: Metadata
  resources:
  - group: ""
    resources: [secrets]
- level: RequestResponse
  resources:
  - group: ""
    resources: ["pods/*"]
- level: Metadata
"""
NEW_POLICY = POLICY.replace("- level: Metadata\n  resources", "- level: None\n  resources")


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    p = tmp_path / "policy.yaml"
    p.write_text(POLICY)
    return p


def _log(tmp_path: Path) -> Path:
    big_body = {
        "kind": "Pod",
        "metadata": {"name": "p", "managedFields": [{"manager": "kubectl"}]},
        "spec": {},
    }
    return write_log(
        tmp_path / "audit.log",
        [
            event("alice", "get", "secrets", "team-a", "hf-token"),
            event("alice", "get", "pods", "team-a", "p", level="RequestResponse", responseObject=big_body),
            event("system:anonymous", "get", path="/healthz", groups=["system:unauthenticated"]),
            event("bob", "create", "pods", "serving", "bert-predictor-7d9f8c6b5-aaaaa", sub="exec"),
        ],
    )


def test_level_for_one_request_as_json(policy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["audit", "level", "--policy", str(policy), "--user", "alice", "--group", "devs", "--verb", "get",
         "--resource", "pods", "--subresource", "log", "-n", "team-a", "-o", "json"]
    )  # fmt: skip
    assert code == 0
    assert json.loads(capsys.readouterr().out) == {
        "level": "RequestResponse",
        "omitStages": ["RequestReceived"],
        "omitManagedFields": False,
    }


def test_level_for_a_path_as_text(policy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "level", "--policy", str(policy), "--path", "/healthz/etcd"]) == 0
    assert capsys.readouterr().out == "level=None omitStages=RequestReceived omitManagedFields=false (rules[0])\n"


def test_level_needs_a_request(policy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "level", "--policy", str(policy)]) == 2
    assert "give --resource" in capsys.readouterr().err


def test_level_per_event(policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = _log(tmp_path)
    assert main(["audit", "level", "--policy", str(policy), str(log), "-o", "json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["user"], r["level"], r["rule"]) for r in rows] == [
        ("alice", "Metadata", 1),
        ("alice", "RequestResponse", 2),
        ("system:anonymous", "None", 0),
        ("bob", "RequestResponse", 2),
    ]


def test_compare_sizes_a_policy_change(policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    new = tmp_path / "new.yaml"
    new.write_text(NEW_POLICY)
    log = _log(tmp_path)
    assert main(["audit", "level", "--policy", str(policy), "--compare", str(new), str(log), "-o", "json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert (s["current"]["events"], s["new"]["events"], s["delta"]["events"]) == (3, 2, -1)
    assert s["current"]["byLevel"] == {"Metadata": 1, "RequestResponse": 2}
    assert s["new"]["byLevel"] == {"RequestResponse": 2}
    secret_line = len(log.read_text().splitlines()[0]) + 1
    assert s["delta"]["bytes"] == -secret_line
    assert s["changedEvents"] == 1


def test_compare_text_summary(policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    new = tmp_path / "new.yaml"
    new.write_text(NEW_POLICY)
    assert main(["audit", "level", "--policy", str(policy), "--compare", str(new), str(_log(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "delta:" in out and "-1 events" in out


def test_bad_policy_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Policy\napiVersion: audit.k8s.io/v1\nrules: [{level: Loud}]\n")
    assert main(["audit", "level", "--policy", str(bad), "--resource", "pods"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"stockade: error: {bad}: rules[0].level: unknown audit level 'Loud'")
    assert err.count("\n") == 1


@pytest.mark.parametrize("fmt", ["json", "table", "html"])
def test_analyze_formats(tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    log = _log(tmp_path)
    assert main(["audit", "analyze", str(log), "-o", fmt, "--no-progress"]) == 0
    out = capsys.readouterr().out
    if fmt == "json":
        r = json.loads(out)
        assert r["secretReads"][0]["user"] == "alice"
        assert r["podAccess"][0]["workload"] == "bert-predictor"
    elif fmt == "table":
        assert "== who read secrets\n   alice: 1 reads: team-a/hf-token (get)" in out
        assert "[model-server] serving/bert-predictor: bob exec x1" in out
    else:
        assert out.startswith("<!doctype html>") and "Activity over time per identity" in out
        assert "<script" not in out


def test_analyze_reports_bad_lines_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "audit.log"
    log.write_text(json.dumps(event("alice", "get", "pods", "a", "p")) + "\n{oops\n")
    assert main(["audit", "analyze", str(log), "-o", "json"]) == 2
    err = capsys.readouterr().err
    assert f"{log}:2: not valid JSON" in err


def test_analyze_with_baseline_scores_anomalies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sa = "system:serviceaccount:team-a:trainer"
    train = [event(sa, "get", "configmaps", "team-a", "c", ts=f"2026-11-01T{h:02d}:00:00Z") for h in range(24)]
    later = [event(sa, "list", "secrets", "team-b", ts="2026-11-02T10:00:00Z")]
    log = write_log(tmp_path / "audit.log", train + later)
    assert main(["audit", "analyze", str(log), "-o", "json", "--train-until", "2026-11-02"]) == 0
    r = json.loads(capsys.readouterr().out)
    (a,) = r["anomalies"]
    assert a["identity"] == sa
    assert a["reason"] == "new verb list; new resource core/secrets; new namespace team-b"
    assert a["example"] == "list secrets in team-b"


def test_rbac_writes_roles(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = _log(tmp_path)
    assert main(["audit", "rbac", "--user", "alice", str(log)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Generated by stockade audit rbac from 2 distinct request(s) of alice;\n")
    assert "checked with the RBAC engine: every one of them is allowed." in out
    docs = list(yaml.safe_load_all(out))
    assert [d["kind"] for d in docs] == ["Role", "RoleBinding"]
    assert docs[0]["rules"] == [
        {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["hf-token"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["pods"], "resourceNames": ["p"], "verbs": ["get"]},
    ]


def test_rbac_for_unknown_identity_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "rbac", "--serviceaccount", "x:y", str(_log(tmp_path))]) == 1
    assert "no requests by system:serviceaccount:x:y" in capsys.readouterr().err


def test_rbac_bad_serviceaccount_is_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "rbac", "--serviceaccount", "nocolon", str(_log(tmp_path))]) == 2
    assert "must be NAMESPACE:NAME" in capsys.readouterr().err


def test_analyze_reads_teams_from_the_config_audit_section(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "stockade.yaml"
    cfg.write_text("audit:\n  teams:\n    team-a: [team-a]\n    team-b: [team-b]\n")
    log = write_log(
        tmp_path / "audit.log",
        [event("alice", "get", "secrets", "team-b", "db", groups=["team-a", "system:authenticated"])],
    )
    assert main(["audit", "analyze", str(log), "-o", "json", "-c", str(cfg)]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["crossNamespaceAccess"] == [{"user": "alice", "namespace": "team-b", "count": 1}]


def test_analyze_rejects_malformed_teams(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "stockade.yaml"
    cfg.write_text("audit:\n  teams: [team-a]\n")
    assert main(["audit", "analyze", str(_log(tmp_path)), "-c", str(cfg)]) == 2
    assert "audit.teams must map each team group to a list of namespaces" in capsys.readouterr().err
