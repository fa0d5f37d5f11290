"""Kustomize directories are rendered with the real `kubectl kustomize` (part of this machine's image)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from stockade.loading import load_paths


def test_kustomization_is_rendered_with_kubectl(tmp_path: Path) -> None:
    if shutil.which("kubectl") is None:
        pytest.fail("kubectl is part of this machine image and is needed to test kustomize rendering")
    (tmp_path / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: team-a\n"
        "namePrefix: prod-\nresources: [sa.yaml]\n"
    )
    (tmp_path / "sa.yaml").write_text("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: trainer\n")
    result = load_paths([str(tmp_path)])
    assert not result.errors
    assert [(o.kind, o.namespace, o.name) for o in result.inventory] == [("ServiceAccount", "team-a", "prod-trainer")]
    assert result.inventory.objects[0].location.file == f"{tmp_path}/ (kustomize build)"


def test_failed_render_falls_back_to_files_with_a_note(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [missing.yaml]\n"
    )
    (tmp_path / "sa.yaml").write_text("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a, namespace: x}\n")
    result = load_paths([str(tmp_path)])
    assert not result.errors
    assert [o.name for o in result.inventory] == ["a"]
    assert len(result.notes) == 1 and "kubectl kustomize failed" in result.notes[0]
    assert result.notes[0].endswith("its files were scanned one by one")
