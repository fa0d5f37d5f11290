"""``stockade rbac`` as a demanding user drives it: odd identities, targets and object files."""

from __future__ import annotations

from pathlib import Path

import pytest

from stockade.cli.main import main

POLICY = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: ml}
rules:
- {apiGroups: [""], resources: ["pods", "pods/log"], verbs: ["get"]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: readers, namespace: ml}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: readers}]
"""


@pytest.fixture
def inputs(tmp_path: Path) -> str:
    p = tmp_path / "policy.yaml"
    p.write_text(POLICY)
    return str(p)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["rbac", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_empty_as_is_no_identity(capsys: pytest.CaptureFixture[str], inputs: str) -> None:
    # kubectl treats --as "" as "do not impersonate"; before, it asked about a nameless user.
    assert run(capsys, "can-i", "get", "pods", "--as", "", "-f", inputs) == (
        2,
        "",
        "stockade: error: --as needs a user name\n",
    )


def test_group_without_user(capsys: pytest.CaptureFixture[str], inputs: str) -> None:
    # Before: answered for a nameless identity holding only that group.
    assert run(capsys, "can-i", "get", "pods", "-n", "ml", "--group", "readers", "-f", inputs) == (
        2,
        "",
        "stockade: error: --group requires --user\n",
    )
    assert run(capsys, "can-i", "get", "pods", "-n", "ml", "--user", "u", "--group", "readers", "-f", inputs) == (
        0,
        "yes\n",
        "",
    )


def test_malformed_service_account_name_is_a_plain_user(capsys: pytest.CaptureFixture[str], inputs: str) -> None:
    # As the API server's impersonation filter: no service-account groups, system:authenticated added.
    code, out, err = run(
        capsys, "can-i", "get", "pods", "-n", "ml", "--as", "system:serviceaccount:bad", "-o", "json", "-f", inputs
    )
    assert code == 1 and err == ""
    assert '"name": "system:serviceaccount:bad"' in out
    assert '"groups": [\n      "system:authenticated"\n    ]' in out


def test_quiet_and_json_conflict(capsys: pytest.CaptureFixture[str], inputs: str) -> None:
    # Before: -q -o json printed the JSON document although -q promises silence.
    assert run(capsys, "can-i", "get", "pods", "-q", "-o", "json", "--as", "a", "-f", inputs) == (
        2,
        "",
        "stockade: error: --quiet prints nothing; it cannot be combined with -o json\n",
    )


def test_unknown_verb_warns_as_kubectl(capsys: pytest.CaptureFixture[str], inputs: str) -> None:
    assert run(capsys, "can-i", "GET", "pods", "-n", "ml", "--as", "a", "--as-group", "readers", "-f", inputs) == (
        1,
        "no\n",
        "Warning: verb 'GET' is not a known verb\n",
    )
    # put is a non-resource verb, list is not (kubectl's two lists).
    assert run(capsys, "can-i", "put", "/healthz", "--as", "a", "-f", inputs) == (1, "no\n", "")
    assert run(capsys, "can-i", "list", "/healthz", "--as", "a", "-f", inputs) == (
        1,
        "no\n",
        "Warning: verb 'list' is not a known verb\n",
    )
    assert run(capsys, "can-i", "post", "/healthz", "--as", "a", "-q", "-f", inputs) == (1, "", "")


def test_two_subresource_segments_are_rejected(capsys: pytest.CaptureFixture[str], inputs: str) -> None:
    # Before: asked about subresource "log/x", which no request can carry.
    assert run(capsys, "can-i", "get", "pods/log/x", "--as", "a", "-f", inputs) == (
        2,
        "",
        "stockade: error: pods/log/x: expected RESOURCE[.GROUP][/SUBRESOURCE] with a single subresource\n",
    )
    assert run(capsys, "who-can", "get", ".apps", "-f", inputs) == (
        2,
        "",
        "stockade: error: .apps: no resource before the group or subresource\n",
    )


def test_escalation_check_binding_with_bad_role_ref(
    capsys: pytest.CaptureFixture[str], inputs: str, tmp_path: Path
) -> None:
    obj = tmp_path / "binding.yaml"
    obj.write_text(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: b, namespace: ml}\n"
        "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Foo, name: r}\n"
    )
    # Before: "RoleBinding ml/b: Foo 'r' not found" (and "  '' not found" without a roleRef).
    assert run(capsys, "escalation-check", str(obj), "--as", "a", "-f", inputs) == (
        1,
        "denied (role-not-found): RoleBinding ml/b: roleRef.kind must be Role or ClusterRole, not 'Foo'\n",
        "",
    )


def test_escalation_check_odd_object_files(capsys: pytest.CaptureFixture[str], inputs: str, tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe")
    code, out, err = run(capsys, "escalation-check", str(empty), "--as", "a", "-f", inputs)
    assert (code, out) == (2, "")
    assert (
        err == f"stockade: error: {empty}: no Role, ClusterRole, RoleBinding or ClusterRoleBinding in the object file\n"
    )
    code, out, err = run(capsys, "escalation-check", str(binary), "--as", "a", "-f", inputs)
    assert (code, out) == (2, "")
    assert err.startswith(f"stockade: error: {binary}") and err.count("\n") == 1 and "Traceback" not in err


def test_graph_dot_escapes_line_breaks(capsys: pytest.CaptureFixture[str], inputs: str) -> None:
    # Before: labels held raw newlines inside quoted DOT strings.
    code, out, err = run(capsys, "graph", "--no-bootstrap", "-f", inputs)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert '  "RoleBinding:ml/readers" [shape=box, label="RoleBinding:ml/readers\\nnamespace ml"];' in lines
    assert '  "Role:ml/pod-reader" [shape=component, label="Role:ml/pod-reader\\nget pods,pods/log"];' in lines
    # Every statement is on one line.
    assert all(line.endswith(("{", "}", ";")) for line in lines)


def test_empty_namespace_flag_is_the_default_namespace(capsys: pytest.CaptureFixture[str], inputs: str) -> None:
    # kubectl: -n "" falls back to the current namespace; before, Stockade asked about all namespaces.
    code, out, _ = run(capsys, "can-i", "list", "pods", "-n", "", "--as", "a", "-o", "json", "-f", inputs)
    assert code == 1 and '"namespace": "default"' in out
    code, out, _ = run(capsys, "who-can", "list", "pods", "-n", "", "-o", "json", "--no-bootstrap", "-f", inputs)
    assert code == 0 and '"namespace": "default"' in out


def test_suggest_odd_request_files(capsys: pytest.CaptureFixture[str], inputs: str, tmp_path: Path) -> None:
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe")
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json\n")
    # Before: tracebacks for the binary files, and the file named twice ("empty.yaml: empty.yaml: ...").
    assert run(capsys, "suggest", "--needs", str(binary), "-f", inputs) == (
        2,
        "",
        f"stockade: error: {binary}: not valid UTF-8 text\n",
    )
    assert run(capsys, "suggest", "--audit-log", str(binary), "-f", inputs) == (
        2,
        "",
        f"stockade: error: {binary}: not valid UTF-8 text\n",
    )
    assert run(capsys, "suggest", "--needs", str(empty), "-f", inputs) == (
        2,
        "",
        f"stockade: error: {empty}: expected a list of requests\n",
    )
    code, out, err = run(capsys, "suggest", "--audit-log", str(bad), "-f", inputs)
    assert (code, out) == (2, "")
    assert err.startswith(f"stockade: error: {bad}:1: invalid JSON: ") and err.count(str(bad)) == 1
