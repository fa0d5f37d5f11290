"""Odd inputs a demanding user feeds the loader: each gives exactly one precise outcome."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from stockade.loading import load_paths
from stockade.model import InputFailure, Location

POD = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n  - name: c\n    image: nginx\n"


def test_unreadable_directory_is_an_input_error_and_the_rest_is_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "ok.yaml").write_text(POD.format(name="ok"))
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "hidden.yaml").write_text(POD.format(name="hidden"))
    real_scandir = os.scandir

    def scandir(path: str) -> Any:  # as for a directory without read permission (tests may run as root)
        if str(path) == str(locked):
            raise PermissionError(13, "Permission denied", str(locked))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    result = load_paths([str(tmp_path)])
    assert [o.name for o in result.inventory] == ["ok"]
    assert result.errors == [InputFailure(Location(str(locked)), "cannot read directory: Permission denied")]


def test_bare_scalar_document_names_what_it_got(tmp_path: Path) -> None:
    f = tmp_path / "scalar.yaml"
    f.write_text("# a note\njust a string\n---\ntrue\n---\n" + POD.format(name="after"))
    result = load_paths([str(f)])
    assert [str(e) for e in result.errors] == [
        f"{f}:2: expected a Kubernetes object (a mapping), got a scalar (a string)",
        f"{f}:4: expected a Kubernetes object (a mapping), got a scalar (a boolean)",
    ]
    assert [o.name for o in result.inventory] == ["after"]


def test_yaml_directive_belongs_to_the_next_document(tmp_path: Path) -> None:
    f = tmp_path / "directive.yaml"
    f.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n...\n%YAML 1.1\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n"
    )
    result = load_paths([str(f)])
    assert result.errors == []  # before: "did not find expected <document start>" at line 5
    assert [(o.name, o.location.line) for o in result.inventory] == [("a", 1), ("b", 7)]


def test_object_line_skips_a_commented_document_marker(tmp_path: Path) -> None:
    f = tmp_path / "helm.yaml"
    f.write_text(
        "--- # Source: chart/templates/a.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
        "---\n# Source: chart/templates/b.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n"
    )
    result = load_paths([str(f)])
    assert [(o.name, o.location.line) for o in result.inventory] == [("a", 2), ("b", 7)]


def test_helm_template_output_keeps_each_objects_line(tmp_path: Path) -> None:
    f = tmp_path / "rendered.yaml"
    f.write_text(
        "---\n# Source: app/templates/disabled.yaml\n"  # a template rendered to nothing
        "---\n# Source: app/templates/sa.yaml\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n"
        '  name: "rel-app"\n  labels:\n    helm.sh/chart: app-0.1.0\n'
        "---\n# Source: app/templates/deployment.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
        "  name: rel-app\nspec:\n  template:\n    spec:\n      securityContext:\n        {}\n"
        '      containers:\n        - name: app\n          image: "nginx:1.25"\n          resources:\n            {}\n'
    )
    result = load_paths([str(f)])
    assert result.errors == [] and result.skipped == []
    assert [(o.kind, o.name, o.location.line) for o in result.inventory] == [
        ("ServiceAccount", "rel-app", 5),
        ("Deployment", "rel-app", 13),
    ]
    deploy = result.inventory.get("Deployment", "rel-app", None)
    assert deploy is not None
    assert deploy.body["spec"]["template"]["spec"]["containers"][0] == {
        "name": "app",
        "image": "nginx:1.25",
        "resources": {},
    }


def test_binary_tag_is_decoded_as_go_yaml_v2_does(tmp_path: Path) -> None:
    f = tmp_path / "cm.yaml"
    f.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bin}\ndata:\n"
        "  a: !!binary aGVsbG8=\n  b: !!binary |\n    aGVs\n    bG8=\n"
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: bad}\ndata:\n  c: !!binary aGVsbG8\n"
    )
    result = load_paths([str(f)])
    # before: the base64 text itself ("aGVsbG8="), and unpadded base64 accepted
    assert [o.body["data"] for o in result.inventory] == [{"a": "hello", "b": "hello"}]
    assert [str(e) for e in result.errors] == [f"{f}:14: invalid YAML: !!binary value contains invalid base64 data"]


def test_symlinked_directory_is_followed_once_and_loops_end(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "pod.yaml").write_text(POD.format(name="shared"))
    repo = tmp_path / "repo"
    (repo / "apps").mkdir(parents=True)
    (repo / "apps" / "pod.yaml").write_text(POD.format(name="own"))
    os.symlink(shared, repo / "linked")  # before: silently not scanned
    os.symlink("..", repo / "apps" / "up")  # a loop back to the root
    result = load_paths([str(repo)])
    assert result.errors == []
    assert sorted((o.name, o.location.file) for o in result.inventory) == [
        ("own", str(repo / "apps" / "pod.yaml")),
        ("shared", str(repo / "linked" / "pod.yaml")),
    ]


def test_locating_every_item_of_a_large_list_is_linear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import stockade.loading.yamlsource as yamlsource

    n = 2000
    items = "".join(f"- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: cm{i}\n" for i in range(n))
    f = tmp_path / "dump.yaml"
    f.write_text(f"apiVersion: v1\nitems:\n{items}kind: List\nmetadata:\n  resourceVersion: ''\n")
    calls = 0
    real = yamlsource._is_dash

    def counting(line: str, col: int) -> bool:
        nonlocal calls
        calls += 1
        return real(line, col)

    monkeypatch.setattr(yamlsource, "_is_dash", counting)
    result = load_paths([str(f)])
    objs = list(result.inventory)
    assert [(o.name, o.location.line) for o in (objs[0], objs[1], objs[-1])] == [
        ("cm0", 3),
        ("cm1", 7),
        (f"cm{n - 1}", 3 + 4 * (n - 1)),
    ]
    assert calls < 10 * n  # before: the list was rescanned for every item (about 2 * n * n calls)
