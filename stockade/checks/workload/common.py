"""Helpers shared by the workload checks."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from stockade.checks.registry import ScanContext
from stockade.loading.podspecs import PodSpecRef
from stockade.model import Reference

K8S_DOCS = "https://kubernetes.io/docs"


def doc(title: str, path: str) -> Reference:
    """A reference to a page of the Kubernetes documentation."""
    return Reference(title, f"{K8S_DOCS}/{path}")


def _controlled(owner_refs: Any) -> bool:
    return isinstance(owner_refs, list) and any(
        isinstance(o, Mapping) and o.get("controller") is True for o in owner_refs
    )


def owned_pod_specs(ctx: ScanContext) -> Iterator[PodSpecRef]:
    """Pod specs a user writes: objects created by a controller (the Pods of a Deployment in a
    cluster dump, its ReplicaSets) are skipped, because the finding belongs on the controller."""
    for ps in ctx.pod_specs():
        if not _controlled(ps.obj.metadata.get("ownerReferences")):
            yield ps


def effective_namespace(ps: PodSpecRef) -> str:
    """The namespace the pods run in (``default`` when the manifest names none)."""
    return ps.namespace or "default"
