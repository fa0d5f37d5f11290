"""Objects of every shape the loader accepts must never make a check fail internally.

Real manifests (the example platform and ML samples from the corpus) are mutated at random,
with a fixed seed: subtrees replaced by values of other types. Each mutant is either rejected by
the loader with an input error, or scanned; a check that raises is a bug (it would lose that
check's findings on a real cluster dump).
"""

from __future__ import annotations

import copy
import random
from typing import Any

from stockade.config import Config
from stockade.loading import Inventory, load_paths
from stockade.loading.sources import LoadResult, _add_object
from stockade.scan import scan_inventory
from tests.conftest import ROOT, shared_path

VALUES: list[Any] = [[], {}, "x", 7, True, None, [1], {"a": 1}, ["a", {"b": []}], -1, 3.5, "0.0.0.0/0", "*"]
CONFIG = Config.from_mapping({"gpu": {"namespaces": ["gpu"]}, "images": {"allowed_registries": ["r.io"]}})


def _paths(value: Any, prefix: tuple[Any, ...], out: list[tuple[Any, ...]]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            out.append((*prefix, k))
            _paths(v, (*prefix, k), out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.append((*prefix, i))
            _paths(v, (*prefix, i), out)


def test_mutated_objects_never_break_a_check() -> None:
    corpus = shared_path("corpus")
    sources = [ROOT / "examples" / "ml-platform", corpus / "kubernetes-goat", corpus / "kubeflow-manifests" / "tests",
               corpus / "kuberay" / "ray-operator" / "config" / "samples"]  # fmt: skip
    objects = list(load_paths([str(p) for p in sources], render_kustomize=False).inventory)
    rng = random.Random(20261129)
    failures: dict[str, str] = {}
    scanned = 0
    for _ in range(300):
        original = rng.choice(objects)
        body = copy.deepcopy(dict(original.body))
        for _ in range(rng.randint(1, 3)):
            paths: list[tuple[Any, ...]] = []
            _paths(body, (), paths)
            path = rng.choice(paths)
            parent: Any = body
            for key in path[:-1]:
                parent = parent[key]
            parent[path[-1]] = copy.deepcopy(rng.choice(VALUES))
        loaded = LoadResult(inventory=Inventory())
        _add_object(loaded, body, original.location, original.source, "")
        scanned += len(loaded.inventory)
        context = rng.sample(objects, 15)  # neighbours, so cross-object checks (RBAC, netpol) run
        report = scan_inventory(Inventory.of([*loaded.inventory, *context]), CONFIG)
        for e in report.errors:
            if e.location.file.startswith("checks "):
                failures.setdefault(e.message, f"{original.ref} mutated at {path}")
    assert scanned > 100, "most mutants should still be valid objects"
    assert not failures, failures
