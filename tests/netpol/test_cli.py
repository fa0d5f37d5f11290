"""``stockade netpol check|matrix|assert``: output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stockade.cli.main import main

DATA = Path(__file__).resolve().parent / "data"
SERVING = str(DATA / "ml-serving.yaml")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["netpol", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def check(
    capsys: pytest.CaptureFixture[str], src: str, dst: str, port: str, *extra: str, path: str = SERVING
) -> tuple[int, str, str]:
    """``stockade netpol check --from SRC --to DST --port PORT -f PATH EXTRA...``."""
    return run(capsys, "check", "--from", src, "--to", dst, "--port", port, "-f", path, *extra)


def test_check_allowed_and_denied(capsys: pytest.CaptureFixture[str]) -> None:
    assert check(capsys, "gateway/gateway", "serving/model-server", "8080") == (0, "allowed\n", "")
    code, out, _ = check(capsys, "monitoring/prometheus", "serving/model-server", "8080")
    assert (code, out) == (1, "denied\n")


def test_check_json_explains_each_direction(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = check(capsys, "serving/model-server", "ip:198.51.100.10", "443", "-o", "json")
    assert code == 1
    assert json.loads(out) == {
        "from": "serving/model-server",
        "to": "ip:198.51.100.10",
        "port": 443,
        "protocol": "TCP",
        "allowed": False,
        "egress": {
            "status": "denied",
            "isolated_by": ["serving/default-deny", "serving/model-server-egress"],
        },
        "ingress": {"status": "not-applicable"},
    }


def test_check_udp_to_dns(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = check(capsys, "serving/model-server", "kube-system/coredns", "53", "--protocol", "udp")
    assert (code, out) == (0, "allowed\n")


def test_check_unknown_endpoint_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = check(capsys, "serving/nope", "serving/model-server", "80")
    assert code == 2
    assert err == "stockade: error: serving/nope: no pod or workload with that name\n"


def test_check_resolves_a_deployment_to_its_pods_in_a_dump(capsys: pytest.CaptureFixture[str]) -> None:
    dump = str(DATA / "cluster-dump.deployment-with-pods.yaml")
    code, out, _ = check(capsys, "node/node-a", "web/api", "8080", "-o", "json", path=dump)
    doc = json.loads(out)
    assert (code, doc["to"], doc["ingress"]) == (0, "web/api-5d8f9b7c4-abcde", {"status": "node-exempt"})


def test_missing_input_file_exits_2_after_answering(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = check(capsys, "1.2.3.4", "5.6.7.8", "80", path=str(tmp_path / "missing.yaml"))
    assert (code, out) == (2, "allowed\n")
    assert "missing.yaml: no such file or directory" in err


def test_matrix_csv_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "matrix", "--port", "8080", "-o", "csv", "-f", SERVING)
    lines = out.splitlines()
    assert code == 0
    assert (
        lines[0] == "from\\to,serving/model-server,serving/feature-store,gateway/gateway,"
        "monitoring/prometheus,kube-system/coredns"
    )
    assert lines[3] == "gateway/gateway,1,0,1,1,1"
    assert lines[1] == "serving/model-server,0,0,0,0,0"  # replicas of one Deployment do not reach each other
    code, out, _ = run(
        capsys, "matrix", "--port", "9090", "-o", "json", "-n", "serving", "-n", "monitoring", "-f", SERVING
    )
    doc = json.loads(out)
    assert doc["pods"] == ["serving/model-server", "serving/feature-store", "monitoring/prometheus"]
    assert doc["allowed"]["monitoring/prometheus"] == ["serving/model-server", "monitoring/prometheus"]


def test_matrix_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "matrix", "-f", SERVING, "--port", "8080")
    assert code == 0
    assert out.splitlines()[0].startswith("# TCP/8080: rows are sources")
    assert out.splitlines()[-3].split() == ["gateway/gateway", "X", ".", "X", "X", "X"]


def test_assert_reports_each_failure_and_a_summary(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    exp = tmp_path / "expect.yaml"
    exp.write_text(
        """
- {from: gateway/gateway, to: serving/model-server, port: 8080, expect: allowed}
- {from: monitoring/prometheus, to: serving/model-server, port: 9090, expect: allowed}
- {from: serving/model-server, to: "ip:198.51.100.10", port: 443, expect: denied}
- {from: monitoring/prometheus, to: serving/model-server, port: 8080, expect: allowed}
- {name: dns, from: serving/model-server, to: kube-system/coredns, port: 53, protocol: UDP, expect: denied}
- {from: serving/typo, to: serving/model-server, port: 80, expect: denied}
""",
        encoding="utf-8",
    )
    code, out, _ = run(capsys, "assert", str(exp), "-f", SERVING)
    assert code == 1
    assert out.splitlines() == [
        "FAIL monitoring/prometheus -> serving/model-server TCP/8080: expected allowed, got denied "
        "(egress not-isolated; ingress denied "
        "(isolated by serving/default-deny, serving/model-server-ingress))",
        "FAIL dns: serving/model-server -> kube-system/coredns UDP/53: expected denied, got allowed "
        "(egress allowed by serving/model-server-egress:egress[1]; ingress not-isolated)",
        "FAIL serving/typo -> serving/model-server TCP/80: serving/typo: no pod or workload with that name",
        "3 passed, 3 failed",
    ]


def test_assert_all_passing_and_bad_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    exp = tmp_path / "ok.yaml"
    exp.write_text("expectations:\n- {from: gateway/gateway, to: serving/model-server, port: 8080, expect: allowed}\n")
    assert run(capsys, "assert", str(exp), "-f", SERVING) == (0, "1 passed, 0 failed\n", "")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {from: a/b, to: c/d, port: 80, expect: maybe}\n")
    code, _, err = run(capsys, "assert", str(bad), "-f", SERVING)
    assert code == 2 and "bad.yaml: expectation 1: expect must be allowed or denied" in err


def test_switches_reach_the_engine(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = check(capsys, "serving/model-server", "serving/model-server", "8080", "--no-self-exempt")
    assert (code, out) == (1, "denied\n")


def test_documented_example_expectations_hold(capsys: pytest.CaptureFixture[str]) -> None:
    """docs/netpol.md shows this run: the example platform meets its reachability intent."""
    root = Path(__file__).resolve().parents[2] / "examples"
    code, out, _ = run(
        capsys, "assert", str(root / "ml-platform-netpol-expectations.yaml"), "-f", str(root / "ml-platform")
    )
    assert (code, out.splitlines()[-1]) == (0, "11 passed, 0 failed")


def test_admin_and_baseline_tiers_from_manifests(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(DATA / "admin-tier-guardrails.yaml")
    code, out, _ = check(capsys, "notebooks/alice", "serving/model", "8080", "-o", "json", path=path)
    assert code == 1
    assert json.loads(out)["ingress"] == {
        "status": "denied",
        "by": ["AdminNetworkPolicy/research-cannot-reach-production:ingress[1] (deny-research)"],
        "tier": "admin",
    }
    # Passed to NetworkPolicy, which allows everything in serving.
    code, out, _ = check(capsys, "monitoring/prometheus", "serving/model", "8080", "-o", "json", path=path)
    assert code == 0
    assert json.loads(out)["ingress"] == {
        "status": "allowed",
        "by": ["serving/allow-all:ingress[0]"],
        "passed_by": ["AdminNetworkPolicy/research-cannot-reach-production:ingress[0] (pass-monitoring)"],
    }
    # No NetworkPolicy in notebooks: the baseline decides.
    code, out, _ = check(capsys, "monitoring/prometheus", "notebooks/alice", "8888", "-o", "json", path=path)
    assert code == 1
    assert json.loads(out)["ingress"]["tier"] == "baseline"
    code, out, _ = run(capsys, "matrix", "--port", "8080", "-o", "csv", "-f", path)
    assert out.splitlines()[1:] == ["notebooks/alice,1,0,0", "serving/model,0,1,0", "monitoring/prometheus,0,1,1"]


def test_config_section_sets_switches_and_flags_win(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    manifest = tmp_path / "cidr.yaml"
    manifest.write_text(
        """
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: a}
spec: {containers: [{name: c, image: "busybox:1.36"}]}
status: {phase: Running, podIP: 10.1.0.5}
---
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: b, labels: {app: server}}
spec: {containers: [{name: c, image: "busybox:1.36"}]}
status: {phase: Running, podIP: 10.2.0.5}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-cidr, namespace: b}
spec:
  podSelector: {}
  ingress: [{from: [{ipBlock: {cidr: 10.1.0.0/16}}]}]
""",
        encoding="utf-8",
    )
    config = tmp_path / "stockade.yaml"
    config.write_text("netpol:\n  ipblock_matches_pod_ips: false\n", encoding="utf-8")
    args = ("check", "--from", "a/client", "--to", "b/server", "--port", "80", "-f", str(manifest))
    assert run(capsys, *args)[:2] == (0, "allowed\n")
    assert run(capsys, *args, "-c", str(config))[:2] == (1, "denied\n")
    assert run(capsys, *args, "--no-ipblock-pod-ips")[:2] == (1, "denied\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("netpol:\n  hostnetwork: sometimes\n", encoding="utf-8")
    code, _, err = run(capsys, *args, "-c", str(bad))
    assert code == 2 and "netpol.hostnetwork must be node-traffic or pod-like" in err
