"""Reading inputs: files, directories, stdin, lists, JSON, errors that name the file and line."""

from __future__ import annotations

import io
from pathlib import Path

from stockade.loading import load_paths

POD = (
    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: ml\n"
    "spec:\n  containers:\n  - name: c\n    image: busybox:1.36\n"
)


def test_multi_document_file_keeps_each_objects_line(tmp_path: Path) -> None:
    f = tmp_path / "pods.yaml"
    f.write_text("# two pods\n" + POD.format(name="a") + "---\n" + POD.format(name="b"))
    result = load_paths([str(f)])
    assert [(o.name, o.location.line) for o in result.inventory] == [("a", 2), ("b", 12)]
    assert not result.errors


def test_kubectl_list_dump_is_expanded_with_item_lines(tmp_path: Path) -> None:
    f = tmp_path / "dump.yaml"
    f.write_text(
        "apiVersion: v1\nkind: List\nitems:\n"
        "- apiVersion: v1\n  kind: ServiceAccount\n  metadata: {name: a, namespace: x}\n"
        "- apiVersion: v1\n  kind: ServiceAccount\n  metadata: {name: b, namespace: x}\n"
    )
    result = load_paths([str(f)])
    assert [(o.kind, o.name, o.location.line, o.list_path) for o in result.inventory] == [
        ("ServiceAccount", "a", 4, "items[0]"),
        ("ServiceAccount", "b", 7, "items[1]"),
    ]


def test_typed_list_items_inherit_kind(tmp_path: Path) -> None:
    f = tmp_path / "roles.json"
    f.write_text(
        '{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleList", "items": '
        '[{"metadata": {"name": "r", "namespace": "x"}, "rules": []}]}'
    )
    (obj,) = load_paths([str(f)]).inventory
    assert (obj.kind, obj.ref.api_version, obj.name) == ("Role", "rbac.authorization.k8s.io/v1", "r")


def test_stdin_yaml_and_json() -> None:
    yaml_in = io.StringIO(POD.format(name="from-stdin"))
    assert [o.name for o in load_paths(["-"], stdin=yaml_in).inventory] == ["from-stdin"]
    json_in = io.StringIO('{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}}')
    assert [o.kind for o in load_paths(["-"], stdin=json_in).inventory] == ["Namespace"]


def test_directory_is_recursive_and_skips_hidden_dirs(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / ".git").mkdir()
    (tmp_path / "a" / "b" / "deep.yml").write_text(POD.format(name="deep"))
    (tmp_path / ".git" / "x.yaml").write_text(POD.format(name="hidden"))
    (tmp_path / "README.md").write_text("not yaml")
    assert [o.name for o in load_paths([str(tmp_path)]).inventory] == ["deep"]


def test_bad_document_does_not_hide_the_others(tmp_path: Path) -> None:
    f = tmp_path / "mixed.yaml"
    f.write_text(POD.format(name="good1") + "---\nkind: [unclosed\n---\n" + POD.format(name="good2"))
    result = load_paths([str(f)])
    assert [o.name for o in result.inventory] == ["good1", "good2"]
    (err,) = result.errors
    assert err.location.file == str(f) and err.location.line == 12
    assert err.message.startswith("invalid YAML")


def test_non_object_document_and_missing_file(tmp_path: Path) -> None:
    f = tmp_path / "list.yaml"
    f.write_text("- a\n- b\n")
    result = load_paths([str(f), str(tmp_path / "missing.yaml")])
    assert [(e.location.file, e.message) for e in result.errors] == [
        (str(f), "expected a Kubernetes object (a mapping), got a list"),
        (str(tmp_path / "missing.yaml"), "no such file or directory"),
    ]


def test_wrong_field_type_is_an_input_error_naming_the_field(tmp_path: Path) -> None:
    f = tmp_path / "deploy.yaml"
    f.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: x}\n"
        "spec:\n  template:\n    spec:\n      containers:\n        name: c\n"
    )
    (err,) = load_paths([str(f)]).errors
    assert err.message == "spec.template.spec.containers: expected a list, got an object"
    assert str(err.object) == "Deployment/x/d"


def test_plain_yaml_that_is_not_kubernetes_is_skipped_with_reason(tmp_path: Path) -> None:
    f = tmp_path / "values.yaml"
    f.write_text("replicaCount: 2\n")
    result = load_paths([str(f)])
    assert not result.errors and not result.inventory
    assert [s.reason for s in result.skipped] == ["not a Kubernetes object (no apiVersion and kind)"]


def test_kustomization_without_kubectl_scans_files_with_a_note(tmp_path: Path, monkeypatch: object) -> None:
    import shutil

    (tmp_path / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [pod.yaml]\n"
    )
    (tmp_path / "pod.yaml").write_text(POD.format(name="k"))
    monkeypatch.setattr(shutil, "which", lambda name: None)  # type: ignore[attr-defined]
    result = load_paths([str(tmp_path)])
    assert [o.name for o in result.inventory] == ["k"]
    assert result.notes == [
        f"{tmp_path}: kustomization not rendered (kubectl not found); its files were scanned one by one"
    ]
    assert [s.reason for s in result.skipped] == ["kustomize build input, not a cluster object"]


def test_wrong_type_inside_an_ml_resource_is_reported_at_its_real_path(tmp_path: Path) -> None:
    f = tmp_path / "isvc.yaml"
    f.write_text(
        "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata: {name: m, namespace: s}\n"
        "spec:\n  predictor:\n    containers: 1.5\n"
    )
    (err,) = load_paths([str(f)]).errors
    assert err.message == "spec.predictor.containers: expected a list, got a number"


def _dump(n: int, broken: int | None = None) -> str:
    lines = ["apiVersion: v1", "items:"]
    for i in range(n):
        lines += [
            "- apiVersion: v1",
            "  kind: Pod",
            "  metadata:",
            f"    name: p{i}",
            "    namespace: ml",
            "  spec:",
            "    containers:",
            "    - name: c",
            "      image: busybox:1.36" if i != broken else "      image: [unclosed",
            "      securityContext:",
            f"        privileged: {'yes' if i % 2 else 'no'}",
        ]
    lines += ["kind: List", "metadata:", '  resourceVersion: ""']
    return "\n".join(lines) + "\n"


def test_cluster_dump_over_the_document_limit_is_read_item_by_item(tmp_path: Path) -> None:
    f = tmp_path / "dump.yaml"
    f.write_text(_dump(30_000))  # about 9 MiB: over the per-document limit as one document
    result = load_paths([str(f)])
    assert not result.errors
    assert len(result.inventory) == 30_000
    first, second = result.inventory.objects[:2]
    assert (first.name, first.location.line, first.body["spec"]["containers"][0]["securityContext"]) == (
        "p0",
        3,
        {"privileged": False},
    )
    assert second.body["spec"]["containers"][0]["securityContext"] == {"privileged": True}
    assert second.line_of("spec.containers[0].securityContext.privileged") == 24


def test_broken_item_in_a_large_dump_names_its_line_and_keeps_the_others(tmp_path: Path) -> None:
    f = tmp_path / "dump.yaml"
    f.write_text(_dump(8_000, broken=7))  # over 1 MiB: read item by item
    result = load_paths([str(f)])
    assert len(result.inventory) == 7_999
    (err,) = result.errors
    item_start = 3 + 7 * 11
    assert item_start + 8 <= err.location.line < item_start + 11  # at the broken line of item 7
    assert err.message.startswith("invalid YAML")
