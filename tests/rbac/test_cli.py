"""``stockade rbac ...`` end to end: output, exit codes, kubectl's namespace conventions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from stockade.cli.main import main

PLATFORM = """\
apiVersion: v1
kind: ServiceAccount
metadata: {name: trainer, namespace: ml}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: ml}
rules:
- {apiGroups: [""], resources: ["pods", "pods/log"], verbs: ["get", "list"]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: trainer-reads, namespace: ml}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects: [{kind: ServiceAccount, name: trainer, namespace: ml}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: queue-viewer}
rules:
- {apiGroups: ["kueue.x-k8s.io"], resources: ["clusterqueues"], verbs: ["list"]}
- {apiGroups: [""], resources: ["nodes"], verbs: ["get"]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: researchers-queues}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: queue-viewer}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: researchers}]
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: clusterqueues.kueue.x-k8s.io}
spec:
  group: kueue.x-k8s.io
  scope: Cluster
  names: {plural: clusterqueues, singular: clusterqueue, kind: ClusterQueue, shortNames: [cq]}
"""
TRAINER = ["--as", "system:serviceaccount:ml:trainer"]


@pytest.fixture
def inputs(tmp_path: Path) -> str:
    p = tmp_path / "platform.yaml"
    p.write_text(PLATFORM)
    return str(p)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["rbac", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_can_i_yes_and_no(capsys: pytest.CaptureFixture[str], inputs: str) -> None:
    assert run(capsys, "can-i", "get", "pods", "-n", "ml", *TRAINER, "-f", inputs)[:2] == (0, "yes\n")
    # No -n: namespaced resources are asked about in "default".
    assert run(capsys, "can-i", "get", "pods", *TRAINER, "-f", inputs)[:2] == (1, "no\n")
    assert run(capsys, "can-i", "get", "pods/log", "-n", "ml", *TRAINER, "-f", inputs)[0] == 0
    assert run(capsys, "can-i", "get", "pods", "-n", "ml", "--subresource", "log", *TRAINER, "-f", inputs)[0] == 0
    assert run(capsys, "can-i", "delete", "pods", "-n", "ml", *TRAINER, "-f", inputs)[0] == 1
    assert run(capsys, "can-i", "list", "pods", "-A", *TRAINER, "-f", inputs)[0] == 1
    assert run(capsys, "can-i", "get", "pods", "-n", "ml", *TRAINER, "-q", "-f", inputs)[:2] == (0, "")


def test_can_i_cluster_scoped_kinds_and_crds_use_empty_namespace(
    capsys: pytest.CaptureFixture[str], inputs: str
) -> None:
    # --user/--group: the identity as given (no system:authenticated added).
    who = ["--user", "rita", "--group", "researchers"]
    assert run(capsys, "can-i", "list", "cq", *who, "-f", inputs)[0] == 0
    assert run(capsys, "can-i", "list", "clusterqueues.kueue.x-k8s.io", *who, "-f", inputs)[0] == 0
    assert run(capsys, "can-i", "get", "nodes", "n1", *who, "-f", inputs)[0] == 0
    code, _out, err = run(capsys, "can-i", "get", "nodes", "-n", "ml", *who, "-f", inputs)
    assert code == 0 and "not namespace scoped" in err


def test_user_flag_adds_no_groups(capsys: pytest.CaptureFixture[str], inputs: str) -> None:
    # system:basic-user is bound to system:authenticated: --as gets it, --user alone does not.
    args = ["can-i", "create", "selfsubjectaccessreviews.authorization.k8s.io"]
    assert run(capsys, *args, "--as", "alice", "-f", inputs)[0] == 0
    assert run(capsys, *args, "--user", "alice", "-f", inputs)[0] == 1
    assert run(capsys, *args, "--as", "alice", "--no-bootstrap", "-f", inputs)[0] == 1


def test_can_i_non_resource_url(capsys: pytest.CaptureFixture[str], inputs: str) -> None:
    assert run(capsys, "can-i", "get", "/version", "--as", "system:anonymous", "-f", inputs)[0] == 0
    assert run(capsys, "can-i", "get", "/api", "--as", "system:anonymous", "-f", inputs)[0] == 1


def test_can_i_json_names_the_granting_rule_and_binding(capsys: pytest.CaptureFixture[str], inputs: str) -> None:
    code, out, _ = run(capsys, "can-i", "list", "pods", "-n", "ml", *TRAINER, "-o", "json", "-f", inputs)
    doc = json.loads(out)
    assert code == 0 and doc["allowed"] is True
    assert doc["user"]["groups"] == [
        "system:serviceaccounts",
        "system:serviceaccounts:ml",
        "system:authenticated",
    ]
    assert doc["grants"] == [
        {
            "binding": {"kind": "RoleBinding", "name": "trainer-reads", "namespace": "ml"},
            "role": {"kind": "Role", "name": "pod-reader", "namespace": "ml"},
            "ruleIndex": 0,
            "rule": {"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"]},
        }
    ]


def test_can_i_list(capsys: pytest.CaptureFixture[str], inputs: str) -> None:
    code, out, _ = run(capsys, "can-i", "--list", "-n", "ml", *TRAINER, "-f", inputs)
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == [
        "Resources",
        "Non-Resource",
        "URLs",
        "Resource",
        "Names",
        "Verbs",
    ]
    assert ["pods", "[]", "[]", "[get", "list]"] in [line.split() for line in lines]
    assert ["[/version]", "[]", "[get]"] in [line.split() for line in lines]
    code, out, _ = run(capsys, "can-i", "--list", "--no-headers", "-n", "other", *TRAINER, "-f", inputs)
    assert "pods " not in out and not out.startswith("Resources")


def test_can_i_usage_errors(capsys: pytest.CaptureFixture[str], inputs: str) -> None:
    assert run(capsys, "can-i", "get", "pods", "-f", inputs)[0] == 2
    assert run(capsys, "can-i", "get", "pods", "--as", "a", "--user", "b", "-f", inputs)[0] == 2
    assert run(capsys, "can-i", "--list", "get", "pods", "--as", "a", "-f", inputs)[0] == 2
    code, _, err = run(capsys, "can-i", "get", "pods", "-n", "a", "-A", "--as", "a", "-f", inputs)
    assert code == 2 and err.startswith("stockade: error:")


def test_input_errors_exit_2_after_answering(capsys: pytest.CaptureFixture[str], inputs: str, tmp_path: Path) -> None:
    code, out, err = run(
        capsys, "can-i", "get", "pods", "-n", "ml", *TRAINER, "-f", inputs, str(tmp_path / "nope.yaml")
    )
    assert code == 2 and out == "yes\n" and "nope.yaml" in err


def test_who_can(capsys: pytest.CaptureFixture[str], inputs: str) -> None:
    code, out, _ = run(capsys, "who-can", "list", "pods", "-n", "ml", "-o", "json", "-f", inputs)
    subjects = {(r["subject"]["kind"], r["subject"]["name"], r["binding"]["name"]) for r in json.loads(out)["subjects"]}
    assert code == 0
    assert ("ServiceAccount", "trainer", "trainer-reads") in subjects
    assert ("Group", "system:masters", "cluster-admin") in subjects
    code, out, _ = run(capsys, "who-can", "list", "pods", "-f", inputs, "--no-bootstrap")
    assert out.splitlines() == ["SUBJECT   BINDING   ROLE"]  # default namespace: nobody
    code, out, _ = run(capsys, "who-can", "list", "pods", "-A", "-f", inputs, "--no-bootstrap")
    assert "ServiceAccount ml/trainer" in out and "RoleBinding/ml/trainer-reads" in out


def test_escalation_check(capsys: pytest.CaptureFixture[str], inputs: str, tmp_path: Path) -> None:
    obj = tmp_path / "role.yaml"
    obj.write_text(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: copy, namespace: ml}\n"
        'rules: [{apiGroups: [""], resources: ["pods"], verbs: ["get"]}]\n'
    )
    code, out, _ = run(capsys, "escalation-check", str(obj), *TRAINER, "-f", inputs)
    assert code == 0 and out.startswith("allowed (covered)")
    code, out, _ = run(capsys, "escalation-check", str(obj), "--as", "nobody", "-o", "json", "-f", inputs)
    doc = json.loads(out)
    assert code == 1 and doc["results"][0]["reason"] == "escalation"
    assert doc["results"][0]["missing"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]
    code, out, _ = run(
        capsys, "escalation-check", str(obj), "--as", "root", "--as-group", "system:masters", "-f", inputs
    )
    assert code == 0 and out.startswith("allowed (system:masters)")


def test_graph(capsys: pytest.CaptureFixture[str], inputs: str) -> None:
    code, out, _ = run(capsys, "graph", "-o", "json", "-f", inputs)
    g = json.loads(out)
    assert code == 0 and {s["id"] for s in g["subjects"]} == {
        "ServiceAccount:ml/trainer",
        "Group:researchers",
    }
    code, out, _ = run(capsys, "graph", "-f", inputs)
    assert '"ServiceAccount:ml/trainer" -> "RoleBinding:ml/trainer-reads"' in out


def test_suggest(capsys: pytest.CaptureFixture[str], inputs: str, tmp_path: Path) -> None:
    needs = tmp_path / "needs.yaml"
    needs.write_text("- get pods -n ml\n- {verb: get, resource: configmaps, name: cfg, namespace: ml}\n")
    code, out, _ = run(capsys, "suggest", "--needs", str(needs), *TRAINER, "-f", inputs)
    assert code == 0
    assert "# unused today: RoleBinding/ml/trainer-reads -> Role/ml/pod-reader rules[0]" not in out  # get pods used
    assert "# not allowed today: get configmaps cfg in ml" in out
    docs = list(yaml.safe_load_all(out))
    assert [(d["kind"], d["metadata"].get("namespace")) for d in docs] == [
        ("Role", "ml"),
        ("RoleBinding", "ml"),
    ]
    assert docs[1]["subjects"] == [{"kind": "ServiceAccount", "name": "trainer", "namespace": "ml"}]
    code, out, _ = run(capsys, "suggest", "--needs", str(needs), "-o", "json")
    assert code == 0 and [m["kind"] for m in json.loads(out)["manifests"]] == ["Role"]


def test_suggest_from_audit_log(capsys: pytest.CaptureFixture[str], inputs: str, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    events = [
        {
            "stage": "ResponseComplete",
            "verb": "list",
            "user": {"username": "system:serviceaccount:ml:trainer"},
            "objectRef": {"resource": "pods", "namespace": "ml"},
        },
        {
            "stage": "ResponseComplete",
            "verb": "delete",
            "user": {"username": "someone-else"},
            "objectRef": {"resource": "pods", "namespace": "ml", "name": "p"},
        },
    ]
    log.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    code, out, _ = run(capsys, "suggest", "--audit-log", str(log), *TRAINER, "-o", "json", "-f", inputs)
    doc = json.loads(out)
    assert code == 0 and doc["requests"] == [
        {"verb": "list", "apiGroup": "", "resource": "pods", "subresource": "", "name": "", "namespace": "ml"}
    ]
    assert doc["manifests"][0]["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]
    # pod-reader's single rule is used (list pods), so nothing is unused; nothing is missing.
    assert doc["unused"] == [] and doc["missing"] == []


def test_escalation_check_update_of_aggregated_cluster_role(
    capsys: pytest.CaptureFixture[str], inputs: str, tmp_path: Path
) -> None:
    new = tmp_path / "new.yaml"
    old = tmp_path / "old.yaml"
    new.write_text("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: agg}\nrules: []\n")
    old.write_text(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: agg}\nrules: []\n"
        "aggregationRule: {clusterRoleSelectors: [{matchLabels: {x: 'y'}}]}\n"
    )
    code, out, _ = run(
        capsys, "escalation-check", str(new), "--verb", "update", "--old", str(old), *TRAINER, "-f", inputs
    )
    assert code == 1 and out.startswith("denied (aggregation-requires-full-authority)")
    assert run(capsys, "escalation-check", str(new), "--old", str(old), *TRAINER, "-f", inputs)[0] == 2
