"""The default roles and bindings an API server creates at startup ("bootstrap policy").

A byte-for-byte copy of upstream's generated golden files (Apache License 2.0, The Kubernetes
Authors; provenance in ``bootstrap/SOURCES.md``) ships inside this package, so an installed
Stockade answers like a real cluster without extra files. Another directory holding the same six
files may be given instead.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stockade.errors import InputError

BOOTSTRAP_FILES = (
    "cluster-roles.yaml",
    "cluster-role-bindings.yaml",
    "namespace-roles.yaml",
    "namespace-role-bindings.yaml",
    "controller-roles.yaml",
    "controller-role-bindings.yaml",
)
PACKAGED_BOOTSTRAP = Path(__file__).resolve().parent / "bootstrap"


@functools.lru_cache(maxsize=4)
def load_bootstrap_objects(directory: str | None = None) -> tuple[Mapping[str, Any], ...]:
    """Every object of the six bootstrap files (``kind: List`` items), in file order.

    ``directory`` defaults to the packaged copy. Results are cached: callers must not mutate them.
    """
    import yaml

    base = Path(directory) if directory else PACKAGED_BOOTSTRAP
    out: list[Mapping[str, Any]] = []
    for fname in BOOTSTRAP_FILES:
        path = base / fname
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        except OSError as e:
            raise InputError(str(path), f"cannot read bootstrap policy: {e.strerror}") from e
        except yaml.YAMLError as e:
            raise InputError(str(path), f"invalid YAML: {' '.join(str(e).split())}") from e
        items = data.get("items") if isinstance(data, Mapping) else None
        if not isinstance(items, list):
            raise InputError(str(path), "bootstrap policy file is not a List of objects")
        out.extend(i for i in items if isinstance(i, Mapping))
    return tuple(out)
